import { describe, expect, it, vi } from 'vitest'
import { type AdminOptions, createAdminHandler } from '../../src/http/admin.js'
import { toJsonSafe } from '../../src/http/json-safe.js'
import { type CacheOptions, createCache, memoryLayer } from '../../src/index.js'
import { chaosLayer, memoryBusHub } from '../../src/testing/index.js'
import { settle } from '../helpers/async.js'
import { manualClock } from '../helpers/clock.js'

const TOKEN = 'Bearer s3cret'
const JSON_HEADERS = { authorization: TOKEN, 'content-type': 'application/json' }

function setup(options: Partial<AdminOptions> = {}, cacheOptions: CacheOptions = {}) {
  const clock = manualClock()
  const cache = createCache({ clock, prefixes: true, ...cacheOptions })
  const onError = vi.fn()
  const admin = createAdminHandler(cache, {
    basePath: '/cache',
    authorize: (request) => request.headers.get('authorization') === TOKEN,
    onError,
    ...options,
  })
  const get = (path: string, headers: Record<string, string> = { authorization: TOKEN }) =>
    admin(new Request(`http://local/cache${path}`, { headers }))
  const post = (path: string, body?: unknown, headers: Record<string, string> = JSON_HEADERS) =>
    admin(
      new Request(`http://local/cache${path}`, {
        method: 'POST',
        headers,
        ...(body !== undefined && { body: typeof body === 'string' ? body : JSON.stringify(body) }),
      }),
    )
  return { clock, cache, admin, get, post, onError }
}

async function expectError(response: Response, status: number, code: string, message?: string) {
  expect(response.status).toBe(status)
  expect(response.headers.get('content-type')).toMatch(/^application\/json/)
  expect(response.headers.get('cache-control')).toBe('no-store')
  const body = (await response.json()) as { error: { code: string; message: string } }
  expect(body.error.code).toBe(code)
  if (message !== undefined) expect(body.error.message).toContain(message)
  return body.error
}

/** A body stream of `chunks` chunks of `size` bytes, counting how many were pulled. */
function countingStream(chunks: number, size: number) {
  const stream = Object.assign(
    new ReadableStream<Uint8Array>({
      pull(controller) {
        if (stream.pulled === chunks) return controller.close()
        stream.pulled++
        controller.enqueue(new Uint8Array(size).fill(0x20)) // spaces: valid JSON padding
      },
    }),
    { pulled: 0 },
  )
  return stream
}

describe('admin: authorization', () => {
  it('answers 401 with WWW-Authenticate to a request without credentials', async () => {
    const { get } = setup()
    const response = await get('/stats', {})
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/)
    await expectError(response, 401, 'E_UNAUTHORIZED')
  })

  it('answers 403 to credentials that authorize refuses', async () => {
    const { get } = setup()
    const response = await get('/stats', { authorization: 'Bearer wrong' })
    expect(response.headers.get('www-authenticate')).toBeNull()
    await expectError(response, 403, 'E_FORBIDDEN')
  })

  it('authorizes before routing: unknown routes and wrong methods are 401/403, not 404/405', async () => {
    const { get, post } = setup()
    await expectError(await get('/nope', {}), 401, 'E_UNAUTHORIZED')
    await expectError(await get('/nope', { authorization: 'Basic x' }), 403, 'E_FORBIDDEN')
    await expectError(await get('/clear', {}), 401, 'E_UNAUTHORIZED')
    await expectError(await post('/stats', undefined, {}), 401, 'E_UNAUTHORIZED')
    await expectError(await get('/nope'), 404, 'E_NOT_FOUND')
  })

  it('runs nothing for a denied request', async () => {
    const { cache, post } = setup()
    await cache.set('a', 1)
    await expectError(
      await post('/clear', {}, { 'content-type': 'application/json' }),
      401,
      'E_UNAUTHORIZED',
    )
    expect(await cache.get('a')).toBe(1)
  })

  it('denies anything but true (a truthy string, undefined)', async () => {
    for (const verdict of ['yes', undefined, 1]) {
      const { get } = setup({ authorize: () => verdict as unknown as boolean })
      await expectError(await get('/stats'), 403, 'E_FORBIDDEN')
    }
  })

  it('waits for an async authorize and gives it the request', async () => {
    const seen: string[] = []
    const { get } = setup({
      authorize: async (request) => {
        seen.push(`${request.method} ${new URL(request.url).pathname}`)
        await settle()
        return true
      },
    })
    expect((await get('/stats', {})).status).toBe(200)
    expect(seen).toEqual(['GET /cache/stats'])
  })

  it('sends a Response returned by authorize as it is', async () => {
    const { get } = setup({
      authorize: () => new Response('slow down', { status: 429, headers: { 'retry-after': '5' } }),
    })
    const response = await get('/stats')
    expect(response.status).toBe(429)
    expect(response.headers.get('retry-after')).toBe('5')
    expect(await response.text()).toBe('slow down')
  })

  it('answers 500 when authorize throws, reports the error, and runs nothing', async () => {
    const failure = new Error('token store down')
    const { cache, post, onError } = setup({
      authorize: () => {
        throw failure
      },
    })
    await cache.set('a', 1)
    const error = await expectError(await post('/clear'), 500, 'E_INTERNAL')
    expect(error.message).not.toContain('token store')
    expect(onError).toHaveBeenCalledWith(failure, expect.any(Request))
    expect(await cache.get('a')).toBe(1)
  })

  it('answers 404 outside the base path without calling authorize', async () => {
    const authorize = vi.fn(() => true)
    const { admin } = setup({ authorize })
    for (const path of ['/stats', '/cachestats', '/other/cache/stats']) {
      await expectError(await admin(new Request(`http://local${path}`)), 404, 'E_NOT_FOUND')
    }
    expect(authorize).not.toHaveBeenCalled()
  })
})

describe('admin: routing', () => {
  it('serves the routes at the root by default, and accepts a trailing slash', async () => {
    const cache = createCache()
    const admin = createAdminHandler(cache, { authorize: () => true })
    expect((await admin(new Request('http://local/stats'))).status).toBe(200)
    expect((await admin(new Request('http://local/stats/'))).status).toBe(200)
    const nested = createAdminHandler(cache, { authorize: () => true, basePath: '/a/cache/' })
    expect((await nested(new Request('http://local/a/cache/stats'))).status).toBe(200)
  })

  it('answers 405 with Allow for a wrong method on a known route', async () => {
    const { admin, get, post } = setup()
    const onGet = await get('/clear')
    expect(onGet.headers.get('allow')).toBe('POST')
    await expectError(onGet, 405, 'E_METHOD', 'GET')
    const onPost = await post('/stats')
    expect(onPost.headers.get('allow')).toBe('GET, HEAD')
    await expectError(onPost, 405, 'E_METHOD')
    const onDelete = await admin(
      new Request('http://local/cache/keys/a', { method: 'DELETE', headers: JSON_HEADERS }),
    )
    expect(onDelete.headers.get('allow')).toBe('GET, HEAD')
    await expectError(onDelete, 405, 'E_METHOD')
  })

  it('answers HEAD like GET without a body', async () => {
    const { admin } = setup()
    const response = await admin(
      new Request('http://local/cache/stats', {
        method: 'HEAD',
        headers: { authorization: TOKEN },
      }),
    )
    expect(response.status).toBe(200)
    expect(response.headers.get('cache-control')).toBe('no-store')
    expect(response.body).toBeNull()
  })
})

describe('admin: stats and policies', () => {
  it('GET /stats answers the counters; POST /stats/reset zeroes them', async () => {
    const { cache, get, post } = setup()
    await cache.set('a', 1)
    await cache.get('a')
    await cache.get('missing')
    const response = await get('/stats')
    expect(response.status).toBe(200)
    expect(response.headers.get('cache-control')).toBe('no-store')
    const { stats } = (await response.json()) as { stats: { hits: number; misses: number } }
    expect(stats).toMatchObject({ hits: 1, misses: 1, sets: 1 })
    expect(await (await post('/stats/reset')).json()).toEqual({ ok: true })
    expect(cache.stats()).toMatchObject({ hits: 0, misses: 0, sets: 0 })
  })

  it('POST /stats/reset takes no fields', async () => {
    const { cache, post } = setup()
    await cache.get('missing')
    await expectError(await post('/stats/reset', { all: true }), 400, 'E_BAD_REQUEST', '`all`')
    expect(cache.stats().misses).toBe(1)
  })

  it('GET /policies answers every policy with durations in ms', async () => {
    const { get } = setup({}, { policies: { users: { ttl: '5m', staleWhileRevalidate: '1m' } } })
    const { policies } = (await (await get('/policies')).json()) as {
      policies: { name: string; ttl: number | null; staleWhileRevalidate: number }[]
    }
    expect(policies.map((p) => p.name)).toEqual(['default', 'users'])
    expect(policies[1]).toMatchObject({ ttl: 300_000, staleWhileRevalidate: 60_000 })
  })
})

describe('admin: health', () => {
  it('answers 200 with each layer up', async () => {
    const { get } = setup()
    const response = await get('/health')
    expect(response.status).toBe(200)
    const report = (await response.json()) as { status: string; layers: { name: string }[] }
    expect(report.status).toBe('up')
    expect(report.layers.map((l) => l.name)).toEqual(['memory'])
  })

  it('answers 200 when degraded (a lower layer down) and 503 when the top layer is down', async () => {
    const remote = chaosLayer(memoryLayer({ name: 'remote' }))
    const { get } = setup({}, { layers: [memoryLayer(), remote] })
    remote.mode = 'down'
    const degraded = await get('/health')
    expect(degraded.status).toBe(200)
    expect(await degraded.json()).toMatchObject({
      status: 'degraded',
      layers: [
        { name: 'memory', status: 'up' },
        { name: 'remote', status: 'down' },
      ],
    })

    const top = chaosLayer(memoryLayer())
    const down = setup({}, { layers: [top] })
    top.mode = 'down'
    const response = await down.get('/health')
    expect(response.status).toBe(503)
    expect(await response.json()).toMatchObject({ status: 'down' })
  })

  it('passes ?timeout= to the probes', async () => {
    const remote = chaosLayer(memoryLayer({ name: 'remote' }))
    const { clock, get } = setup({}, { layers: [memoryLayer(), remote] })
    remote.mode = 'hang'
    let answered: Response | undefined
    void get('/health?timeout=250ms').then((response) => {
      answered = response
    })
    await settle()
    clock.advance(249)
    await settle()
    expect(answered).toBeUndefined()
    clock.advance(1)
    await settle()
    expect(answered?.status).toBe(200)
    const report = (await answered!.json()) as { layers: { error?: string }[] }
    expect(report.layers[1]!.error).toContain('250ms')
    remote.heal()
  })

  it('refuses a malformed, zero or too long ?timeout=', async () => {
    const { get } = setup()
    for (const timeout of ['soon', '0', '-5', '31s', '1m']) {
      await expectError(await get(`/health?timeout=${timeout}`), 400, 'E_BAD_REQUEST', '`timeout`')
    }
    expect((await get('/health?timeout=1500')).status).toBe(200)
  })
})

describe('admin: invalidate', () => {
  it('invalidates tags, deletes keys and invalidates a prefix, and says what it did', async () => {
    const { cache, post } = setup()
    await cache.set('user:1', 'a', { tags: ['users'] })
    await cache.set('post:1', 'b')
    await cache.set('report:2024:01', 'c')
    await cache.set('kept', 'd', { tags: ['other'] })
    const response = await post('/invalidate', {
      tags: ['users'],
      keys: ['post:1'],
      prefix: 'report:2024',
    })
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({
      ok: true,
      tags: 1,
      keys: 1,
      prefix: 'report:2024',
      mode: 'expire',
    })
    expect(await cache.get('user:1')).toBeUndefined()
    expect(await cache.get('post:1')).toBeUndefined()
    expect(await cache.get('report:2024:01')).toBeUndefined()
    expect(await cache.get('kept')).toBe('d')
  })

  it("invalidates in 'stale' mode when asked", async () => {
    const { cache, post } = setup()
    await cache.set('user:1', 'a', { tags: ['users'] })
    const body = await (await post('/invalidate', { tags: ['users'], mode: 'stale' })).json()
    expect(body).toMatchObject({ tags: 1, keys: 0, prefix: null, mode: 'stale' })
    const report = await cache.inspect('user:1')
    expect(report.layers[0]!.state).toBe('stale')
  })

  it('refuses a body with nothing to invalidate, an unknown field, or wrong types, naming the field', async () => {
    const { cache, post } = setup()
    await cache.set('a', 1, { tags: ['t'] })
    const cases: [unknown, string][] = [
      [{}, '`tags`, `keys` or `prefix`'],
      [{ mode: 'stale' }, '`tags`, `keys` or `prefix`'],
      [{ tags: ['t'], everything: true }, '`everything`'],
      [{ tags: 't' }, '`tags`'],
      [{ tags: ['t', 3] }, '`tags[1]`'],
      [{ keys: [''] }, '`keys[0]`'],
      [{ keys: { a: 1 } }, '`keys`'],
      [{ prefix: 5 }, '`prefix`'],
      [{ prefix: '' }, '`prefix`'],
      [{ tags: ['t'], mode: 'delete' }, '`mode`'],
      [{ tags: ['t'], acknowledge: 'yes' }, '`acknowledge`'],
    ]
    for (const [body, field] of cases) {
      await expectError(await post('/invalidate', body), 400, 'E_BAD_REQUEST', field)
    }
    expect(await cache.get('a')).toBe(1)
  })

  it("answers the cache's own code for a tag it refuses, before changing anything", async () => {
    const { cache, post } = setup()
    await cache.set('a', 1)
    const error = await expectError(
      await post('/invalidate', { keys: ['a'], tags: ['#p:reserved'] }),
      400,
      'E_INVALID_OPTION',
      'tags[0]',
    )
    expect(error.message).toContain('#p:')
    expect(await cache.get('a')).toBe(1)
  })

  it('refuses a prefix when the cache tracks none, before the tags and keys are touched', async () => {
    const { cache, post } = setup({}, { prefixes: false })
    await cache.set('a', 1, { tags: ['t'] })
    await expectError(
      await post('/invalidate', { tags: ['t'], keys: ['a'], prefix: 'a:' }),
      400,
      'E_INVALID_OPTION',
      'prefixes',
    )
    expect(await cache.get('a')).toBe(1)
  })

  it('answers 504 when an acknowledgement times out, after applying every step here', async () => {
    const hub = memoryBusHub()
    const peerBus = hub.bus()
    peerBus.answersAcks = false
    const peer = createCache({ bus: peerBus })
    const { cache, clock, post } = setup({}, { bus: hub.bus() })
    await settle()
    await cache.set('user:1', 'a', { tags: ['users'] })
    await cache.set('post:1', 'b')
    const answer = post('/invalidate', { tags: ['users'], keys: ['post:1'], acknowledge: true })
    for (let i = 0; i < 3; i++) {
      await settle()
      clock.advance(2_000)
    }
    const error = await expectError(await answer, 504, 'E_TIMEOUT', 'did not acknowledge')
    expect(error.message).toContain('invalidateTags')
    expect(await cache.get('user:1')).toBeUndefined()
    expect(await cache.get('post:1')).toBeUndefined()
    await peer.close()
  })

  it('answers 503 E_LAYER when acknowledging with the bus down', async () => {
    const hub = memoryBusHub()
    const bus = hub.bus()
    const { cache, post, onError } = setup({}, { bus })
    await settle()
    await cache.set('a', 1)
    bus.disconnect()
    await expectError(await post('/clear', { acknowledge: true }), 503, 'E_LAYER', 'bus is down')
    expect(onError).toHaveBeenCalledOnce()
    expect(await cache.get('a')).toBeUndefined()
  })
})

describe('admin: request bodies', () => {
  it('refuses a body that is not JSON by Content-Type with 415, even an empty one', async () => {
    const { cache, post } = setup()
    await cache.set('a', 1)
    const form = { authorization: TOKEN, 'content-type': 'application/x-www-form-urlencoded' }
    await expectError(await post('/clear', 'x=1', form), 415, 'E_UNSUPPORTED_MEDIA_TYPE', 'x-www')
    await expectError(
      await post('/clear', undefined, { authorization: TOKEN }),
      415,
      'E_UNSUPPORTED_MEDIA_TYPE',
    )
    await expectError(
      await post('/invalidate', '{"keys":["a"]}', {
        authorization: TOKEN,
        'content-type': 'text/plain',
      }),
      415,
      'E_UNSUPPORTED_MEDIA_TYPE',
    )
    expect(await cache.get('a')).toBe(1)
    const withCharset = { ...JSON_HEADERS, 'content-type': 'Application/JSON; charset=utf-8' }
    expect((await post('/invalidate', { keys: ['a'] }, withCharset)).status).toBe(200)
    expect(await cache.get('a')).toBeUndefined()
  })

  it('refuses malformed JSON, a body that is not an object, invalid UTF-8 and a missing body', async () => {
    const { post, admin } = setup()
    await expectError(
      await post('/invalidate', '{"tags": ['),
      400,
      'E_BAD_REQUEST',
      'not valid JSON',
    )
    await expectError(await post('/invalidate', '["a"]'), 400, 'E_BAD_REQUEST', 'an array')
    await expectError(await post('/invalidate', 'null'), 400, 'E_BAD_REQUEST', 'null')
    await expectError(await post('/invalidate', '"tags"'), 400, 'E_BAD_REQUEST', 'a string')
    await expectError(await post('/invalidate'), 400, 'E_BAD_REQUEST', 'required')
    const bytes = new Uint8Array([0x7b, 0xff, 0x7d])
    const response = await admin(
      new Request('http://local/cache/invalidate', {
        method: 'POST',
        headers: JSON_HEADERS,
        body: bytes,
      }),
    )
    await expectError(response, 400, 'E_BAD_REQUEST', 'UTF-8')
  })

  it('refuses a body over maxBodyBytes from its Content-Length, before reading it', async () => {
    const { admin } = setup({ maxBodyBytes: 1024 })
    const stream = countingStream(4, 512)
    const response = await admin(
      new Request('http://local/cache/invalidate', {
        method: 'POST',
        headers: { ...JSON_HEADERS, 'content-length': '2048' },
        body: stream,
        duplex: 'half',
      } as RequestInit),
    )
    await expectError(response, 413, 'E_BODY_TOO_LARGE', '1024 bytes')
    expect(stream.pulled).toBeLessThanOrEqual(1)
  })

  it('counts a streamed body while reading it and stops at the limit', async () => {
    const { admin } = setup({ maxBodyBytes: '1kb' })
    const stream = countingStream(1_000, 256) // 256 kB offered
    const response = await admin(
      new Request('http://local/cache/invalidate', {
        method: 'POST',
        headers: JSON_HEADERS,
        body: stream,
        duplex: 'half',
      } as RequestInit),
    )
    await expectError(response, 413, 'E_BODY_TOO_LARGE')
    expect(stream.pulled).toBeLessThan(10)
  })

  it('accepts a body of exactly maxBodyBytes', async () => {
    const { cache, post } = setup({ maxBodyBytes: 64 })
    await cache.set('a', 1)
    const body = JSON.stringify({ keys: ['a'] })
    const response = await post('/invalidate', body.padEnd(64, ' '))
    expect(response.status).toBe(200)
    await expectError(await post('/invalidate', body.padEnd(65, ' ')), 413, 'E_BODY_TOO_LARGE')
  })
})

describe('admin: clear', () => {
  it('clears with an empty body or { acknowledge }', async () => {
    const { cache, post } = setup()
    await cache.set('a', 1)
    expect(await (await post('/clear')).json()).toEqual({ ok: true })
    expect(await cache.get('a')).toBeUndefined()
    await cache.set('b', 2)
    expect((await post('/clear', { acknowledge: true })).status).toBe(200)
    expect(await cache.get('b')).toBeUndefined()
  })

  it('refuses unknown fields without clearing', async () => {
    const { cache, post } = setup()
    await cache.set('a', 1)
    await expectError(await post('/clear', { force: true }), 400, 'E_BAD_REQUEST', '`force`')
    expect(await cache.get('a')).toBe(1)
  })

  it('answers 503 E_CLOSED once the cache is closed', async () => {
    const { cache, post } = setup()
    await cache.close()
    await expectError(await post('/clear'), 503, 'E_CLOSED')
  })
})

describe('admin: warmers', () => {
  it('lists the warmers, with nulls for what has not happened', async () => {
    const { cache, get } = setup()
    cache.warmers.register('dashboards', () => [], { priority: 2 })
    const body = await (await get('/warmers')).json()
    expect(body).toEqual({
      warmers: [
        {
          name: 'dashboards',
          every: null,
          priority: 2,
          running: false,
          lastRun: null,
          nextRun: null,
          lastReport: null,
        },
      ],
    })
  })

  it('runs a warmer by its (encoded) name and answers its report, errors as messages', async () => {
    const { cache, get, post } = setup()
    cache.warmers.register(
      'team dashboards',
      () => [
        { key: 'dash:1', factory: () => ({ widgets: 3 }) },
        {
          key: 'dash:2',
          factory: () => {
            throw new Error('origin down')
          },
        },
      ],
      { retries: 0 },
    )
    const response = await post('/warmers/team%20dashboards/run')
    expect(response.status).toBe(200)
    expect(await response.json()).toMatchObject({
      total: 2,
      succeeded: ['dash:1'],
      failed: [{ key: 'dash:2', error: 'origin down' }],
    })
    expect(await cache.get('dash:1')).toEqual({ widgets: 3 })
    const { warmers } = (await (await get('/warmers')).json()) as {
      warmers: { lastReport: { failed: unknown[] } }[]
    }
    expect(warmers[0]!.lastReport.failed).toEqual([{ key: 'dash:2', error: 'origin down' }])
  })

  it('answers 404 for an unknown warmer', async () => {
    const { post } = setup()
    await expectError(await post('/warmers/nope/run'), 404, 'E_NOT_FOUND', '"nope"')
  })

  it('answers 500 without the message when the warmer itself throws, and reports it', async () => {
    const { cache, post, onError } = setup()
    const failure = new Error('password=hunter2')
    cache.warmers.register('broken', () => {
      throw failure
    })
    const error = await expectError(await post('/warmers/broken/run'), 500, 'E_INTERNAL')
    expect(error.message).toBe('internal error')
    expect(onError).toHaveBeenCalledWith(failure, expect.any(Request))
  })
})

describe('admin: keys', () => {
  it("answers a key's envelope in each layer, without its value", async () => {
    const { cache, get, clock } = setup()
    await cache.set('user:42', { name: 'Ada', secret: 'x' }, { ttl: '1m', tags: ['users'] })
    clock.advance(10_000)
    const response = await get('/keys/user%3A42')
    expect(response.status).toBe(200)
    const report = (await response.json()) as { key: string; layers: Record<string, unknown>[] }
    expect(report.key).toBe('user:42')
    expect(report.layers[0]).toMatchObject({
      layer: 'memory',
      state: 'fresh',
      ageMs: 10_000,
      ttlLeftMs: 50_000,
      tags: ['users'],
    })
    expect(report.layers[0]).not.toHaveProperty('value')
    expect(JSON.stringify(report)).not.toContain('Ada')
  })

  it('shows the value with ?value=true, rendered JSON-safe', async () => {
    const { cache, get } = setup()
    const value = {
      at: new Date(Date.UTC(2024, 0, 2)),
      ids: new Set([1, 2]),
      byId: new Map([['a', 1]]),
      big: 12345678901234567890n,
      bytes: new Uint8Array([1, 2, 3]),
      none: undefined,
    }
    await cache.set('v', value)
    const report = (await (await get('/keys/v?value=true')).json()) as {
      layers: { value: unknown }[]
    }
    expect(report.layers[0]!.value).toEqual({
      at: '2024-01-02T00:00:00.000Z',
      ids: [1, 2],
      byId: [['a', 1]],
      big: '12345678901234567890',
      bytes: { type: 'Uint8Array', base64: 'AQID' },
      none: null,
    })
  })

  it('refuses ?value=true with 403 when values are off, and still inspects without it', async () => {
    const { cache, get } = setup({ values: false })
    await cache.set('a', 'secret')
    await expectError(await get('/keys/a?value=true'), 403, 'E_VALUES_DISABLED')
    const response = await get('/keys/a')
    expect(response.status).toBe(200)
    expect(await response.text()).not.toContain('secret')
  })

  it('refuses a ?value= that is not a boolean', async () => {
    const { get } = setup()
    await expectError(await get('/keys/a?value=yes'), 400, 'E_BAD_REQUEST', '`value`')
  })

  it('reports a missing key as missing in each layer', async () => {
    const { get } = setup()
    const report = await (await get('/keys/nothing')).json()
    expect(report).toEqual({ key: 'nothing', layers: [{ layer: 'memory', state: 'missing' }] })
  })

  it('takes the key from ?key= too (for keys such as ".." that a path cannot carry)', async () => {
    const { cache, get } = setup()
    await cache.set('..', 1)
    const report = (await (await get('/keys?key=..')).json()) as { layers: { state: string }[] }
    expect(report.layers[0]!.state).toBe('fresh')
    await expectError(await get('/keys'), 400, 'E_BAD_REQUEST', '?key=')
  })

  it("answers the cache's E_INVALID_KEY and bad percent-encoding with 400", async () => {
    const { get } = setup()
    await expectError(await get('/keys?key='), 400, 'E_INVALID_KEY')
    await expectError(await get('/keys/%E0%A4%A'), 400, 'E_BAD_REQUEST', 'percent-encoding')
  })

  it('keeps a key with a slash in one encoded segment', async () => {
    const { cache, get } = setup()
    await cache.set('a/b', 1)
    const report = (await (await get('/keys/a%2Fb')).json()) as { key: string }
    expect(report.key).toBe('a/b')
    await expectError(await get('/keys/a/b'), 404, 'E_NOT_FOUND')
  })
})

describe('admin: options', () => {
  it('refuses missing or malformed options with E_INVALID_OPTION naming them', () => {
    const cache = createCache()
    const cases: [unknown, string][] = [
      [{}, 'admin options.authorize'],
      [{ authorize: true }, 'admin options.authorize'],
      [{ authorize: () => true, basePath: 'cache' }, 'admin options.basePath'],
      [{ authorize: () => true, basePath: '/a b' }, 'admin options.basePath'],
      [{ authorize: () => true, maxBodyBytes: 'lots' }, 'admin options.maxBodyBytes'],
      [{ authorize: () => true, values: 'no' }, 'admin options.values'],
      [{ authorize: () => true, onError: 1 }, 'admin options.onError'],
      [{ authorize: () => true, authorise: () => true }, 'admin options.authorise'],
    ]
    for (const [options, path] of cases) {
      expect(() => createAdminHandler(cache, options as AdminOptions)).toThrow(
        expect.objectContaining({
          code: 'E_INVALID_OPTION',
          message: expect.stringContaining(path),
        }),
      )
    }
  })
})

describe('toJsonSafe', () => {
  it('renders what JSON cannot carry', () => {
    const cycle: Record<string, unknown> = { name: 'loop' }
    cycle.self = cycle
    const shared = { n: 1 }
    const rendered = toJsonSafe({
      cycle,
      twice: [shared, shared],
      error: new TypeError('bad'),
      pattern: /a+/g,
      invalid: new Date(Number.NaN),
      nan: Number.NaN,
      fn: () => 1,
      buffer: new Uint16Array([1]).buffer,
      view: new DataView(new Uint8Array([9, 8, 7]).buffer, 1, 2),
      url: new URL('https://example.com/a'),
    })
    expect(rendered).toEqual({
      cycle: { name: 'loop', self: '[Circular]' },
      twice: [{ n: 1 }, { n: 1 }],
      error: { name: 'TypeError', message: 'bad' },
      pattern: '/a+/g',
      invalid: null,
      nan: null,
      fn: null,
      buffer: { type: 'ArrayBuffer', base64: 'AQA=' },
      view: { type: 'DataView', base64: 'CAc=' },
      url: 'https://example.com/a',
    })
    expect(JSON.parse(JSON.stringify(rendered))).toEqual(rendered)
  })

  it('keeps a key named __proto__ as a plain key', () => {
    const rendered = toJsonSafe(JSON.parse('{"__proto__": {"polluted": true}}')) as object
    expect(Object.getPrototypeOf(rendered)).toBe(Object.prototype)
    expect(JSON.stringify(rendered)).toBe('{"__proto__":{"polluted":true}}')
  })

  it('renders a large byte array without overflowing the stack', () => {
    const big = new Uint8Array(300_000).fill(65)
    const { base64 } = toJsonSafe(big) as { base64: string }
    expect(atob(base64)).toBe('A'.repeat(300_000))
  })
})
