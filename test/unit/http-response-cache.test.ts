import { describe, expect, it } from 'vitest'
import { withCache } from '../../src/http/index.js'
import { createCache } from '../../src/index.js'
import { settle } from '../helpers/async.js'
import { manualClock } from '../helpers/clock.js'
import { deferred } from '../helpers/map-layer.js'

function setup(respond: (request: Request, n: number) => Response | Promise<Response>) {
  const clock = manualClock()
  const cache = createCache({ clock, policies: { default: { ttl: '1m' }, short: { ttl: '1s' } } })
  const seen: Request[] = []
  const handler = (request: Request) => {
    seen.push(request)
    return respond(request, seen.length)
  }
  return { clock, cache, seen, handler }
}

const url = 'http://local/api/report'
const get = (path = url, headers: Record<string, string> = {}, method = 'GET') =>
  new Request(path, { method, headers })

describe('withCache', () => {
  it('runs the handler once: MISS, then HIT with Age, then 304 on the body ETag', async () => {
    const { clock, cache, seen, handler } = setup((_, n) => Response.json({ n }))
    const cached = withCache(cache, handler, { http: { maxAge: '10s' } })
    const first = await cached(get())
    expect(first.headers.get('x-cache')).toBe('MISS')
    expect(first.headers.get('cache-control')).toBe('public, max-age=10')
    expect(await first.json()).toEqual({ n: 1 })
    const etag = first.headers.get('etag')!
    expect(etag).toMatch(/^"[0-9a-z]{22}"$/) // strong: a hash of the body
    clock.advance(2_000)
    const second = await cached(get())
    expect(second.headers.get('x-cache')).toBe('HIT')
    expect(second.headers.get('x-cache-layer')).toBe('memory')
    expect(second.headers.get('age')).toBe('2')
    expect(second.headers.get('etag')).toBe(etag)
    expect(second.headers.get('content-type')).toBe('application/json')
    expect(await second.json()).toEqual({ n: 1 })
    const third = await cached(get(url, { 'if-none-match': etag }))
    expect(third.status).toBe(304)
    expect(await third.text()).toBe('')
    expect(seen).toHaveLength(1)
    await cache.close()
  })

  it('shares one handler run between concurrent requests', async () => {
    const gate = deferred<Response>()
    const { cache, seen, handler } = setup(() => gate.promise)
    const cached = withCache(cache, handler)
    const responses = Array.from({ length: 20 }, () => cached(get()))
    await settle()
    gate.resolve(new Response('shared'))
    const bodies = await Promise.all((await Promise.all(responses)).map((r) => r.text()))
    expect(bodies).toEqual(Array(20).fill('shared'))
    expect(seen).toHaveLength(1)
    await cache.close()
  })

  it('drops the response when a tag of it is invalidated by a write', async () => {
    const { cache, seen, handler } = setup((request, n) =>
      Response.json({ user: new URL(request.url).searchParams.get('user'), n }),
    )
    const cached = withCache(cache, handler, {
      tags: (request) => [`user:${new URL(request.url).searchParams.get('user')}`],
    })
    await cached(get(`${url}?user=7`))
    await cached(get(`${url}?user=8`))
    await cache.invalidateTags(['user:7'])
    const seven = await cached(get(`${url}?user=7`))
    expect(seven.headers.get('x-cache')).toBe('MISS')
    expect(await seven.json()).toEqual({ user: '7', n: 3 })
    expect((await cached(get(`${url}?user=8`))).headers.get('x-cache')).toBe('HIT')
    expect(seen).toHaveLength(3)
    await cache.close()
  })

  it('keys by path, sorted query and the vary headers, and sends Vary', async () => {
    const { cache, seen, handler } = setup(
      (request) => new Response(request.headers.get('accept-language') ?? 'none'),
    )
    const cached = withCache(cache, handler, { vary: ['Accept-Language'] })
    await cached(get(`${url}?a=1&b=2`, { 'accept-language': 'fr' }))
    const sameKey = await cached(get(`${url}?b=2&a=1`, { 'accept-language': 'fr' }))
    expect(sameKey.headers.get('x-cache')).toBe('HIT')
    expect(sameKey.headers.get('vary')).toBe('Accept-Language')
    const other = await cached(get(`${url}?b=2&a=1`, { 'accept-language': 'de' }))
    expect(other.headers.get('x-cache')).toBe('MISS')
    expect(await other.text()).toBe('de')
    expect(
      (await cached(get(`${url}?a=2&b=2`, { 'accept-language': 'fr' }))).headers.get('x-cache'),
    ).toBe('MISS')
    expect(seen).toHaveLength(3)
    await cache.close()
  })

  it('passes other methods straight to the handler', async () => {
    const { cache, seen, handler } = setup(() => new Response('ok', { status: 201 }))
    const cached = withCache(cache, handler)
    const posted = await cached(get(url, {}, 'POST'))
    expect(posted.status).toBe(201)
    expect(posted.headers.has('x-cache')).toBe(false)
    await cached(get(url, {}, 'POST'))
    expect(seen).toHaveLength(2)
    await cache.close()
  })

  it('answers HEAD from the GET entry, without a body', async () => {
    const { cache, seen, handler } = setup((request) => new Response(`body for ${request.method}`))
    const cached = withCache(cache, handler)
    const head = await cached(get(url, {}, 'HEAD'))
    expect(await head.text()).toBe('')
    expect(head.headers.get('content-length')).toBe(String('body for GET'.length))
    expect(seen[0]!.method).toBe('GET')
    const body = await cached(get())
    expect(body.headers.get('x-cache')).toBe('HIT')
    expect(await body.text()).toBe('body for GET')
    await cache.close()
  })

  it('does not store a response with Set-Cookie, nor share it with a request that joined', async () => {
    const gate = deferred<void>()
    const { cache, seen, handler } = setup(async (_request, n) => {
      if (n === 1) await gate.promise
      return new Response(`for request ${n}`, { headers: { 'set-cookie': `session=${n}` } })
    })
    const cached = withCache(cache, handler)
    const first = cached(get())
    const joined = cached(get())
    await settle()
    gate.resolve()
    const [a, b] = await Promise.all([first, joined])
    expect(a.headers.get('set-cookie')).toBe('session=1')
    expect(await a.text()).toBe('for request 1')
    // The joined request asked the handler itself: it never sees another request's cookie.
    expect(b.headers.get('set-cookie')).toBe('session=2')
    expect(await b.text()).toBe('for request 2')
    expect(a.headers.get('x-cache')).toBe('MISS')
    expect((await cached(get())).headers.get('x-cache')).toBe('MISS')
    expect(seen).toHaveLength(3)
    await cache.close()
  })

  it('stores only the statuses asked for, and never private or no-store responses', async () => {
    const replies = [
      () => new Response('boom', { status: 500 }),
      () => new Response('mine', { headers: { 'cache-control': 'private, max-age=60' } }),
      () => new Response('no', { headers: { 'cache-control': 'no-store' } }),
      () => new Response('gone', { status: 404 }),
    ]
    const { cache, seen, handler } = setup((_, n) => replies[(n - 1) % replies.length]!())
    const cached = withCache(cache, handler)
    for (const status of [500, 200, 200, 404]) {
      const response = await cached(get())
      expect(response.status).toBe(status)
      expect(response.headers.get('x-cache')).toBe('MISS')
    }
    expect(seen).toHaveLength(4)
    const with404 = withCache(cache, handler, { statuses: [200, 404], key: () => 'gone' })
    await cached(get()) // the 500 again (n=5)
    seen.length = 3 // next reply: the 404
    expect((await with404(get())).status).toBe(404)
    expect((await with404(get())).headers.get('x-cache')).toBe('HIT')
    await cache.close()
  })

  it("keeps the handler's Cache-Control and ETag without an HTTP policy, else no-cache", async () => {
    const { cache, handler } = setup((request) =>
      request.url.endsWith('own')
        ? new Response('x', { headers: { 'cache-control': 'public, max-age=5', etag: '"v1"' } })
        : new Response('y'),
    )
    const cached = withCache(cache, handler)
    const own = await cached(get('http://local/own'))
    expect(own.headers.get('cache-control')).toBe('public, max-age=5')
    expect(own.headers.get('etag')).toBe('"v1"')
    expect((await cached(get('http://local/plain'))).headers.get('cache-control')).toBe('no-cache')
    expect((await cached(get('http://local/own', { 'if-none-match': '"v1"' }))).status).toBe(304)
    await cache.close()
  })

  it('stores under the policy and TTL given', async () => {
    const { clock, cache, seen, handler } = setup(() => new Response('v'))
    const cached = withCache(cache, handler, { policy: 'short' })
    await cached(get())
    clock.advance(1_001)
    expect((await cached(get())).headers.get('x-cache')).toBe('MISS')
    const ttl = withCache(cache, handler, { ttl: '5s', key: () => 'ttl' })
    await ttl(get())
    clock.advance(4_000)
    expect((await ttl(get())).headers.get('x-cache')).toBe('HIT')
    expect(seen).toHaveLength(3)
    await cache.close()
  })

  it('refuses bad options at wiring time with a CacheError naming them', async () => {
    const { cache, handler } = setup(() => new Response(''))
    const code = expect.objectContaining({ code: 'E_INVALID_OPTION' })
    expect(() => withCache(cache, handler, { tag: ['x'] } as object)).toThrow(code)
    expect(() => withCache(cache, handler, { statuses: [99] })).toThrow(/options\.statuses/)
    expect(() => withCache(cache, handler, { policy: 'nope' })).toThrow(/names no policy/)
    expect(() => withCache(cache, handler, { http: { maxAge: -5 } })).toThrow(/maxAge/)
    expect(() => withCache(cache, 'handler' as never)).toThrow(/withCache handler/)
    await cache.close()
  })
})
