import { describe, expect, it } from 'vitest'
import {
  cacheControl,
  cacheHeaders,
  entityTag,
  ifNoneMatch,
  notModified,
  respond,
} from '../../src/http/index.js'
import { type CacheResult, createCache, type EntryInfo, memoryLayer } from '../../src/index.js'
import { settle } from '../helpers/async.js'
import { manualClock } from '../helpers/clock.js'

const entry: EntryInfo = {
  createdAt: 1_000_000,
  freshUntil: 1_060_000,
  staleUntil: 1_120_000,
  tags: [],
  policy: 'default',
}

function result(status: CacheResult<unknown>['status'], over: Partial<CacheResult<unknown>> = {}) {
  return {
    value: { n: 1 },
    status,
    layer: status === 'miss' ? undefined : 'memory',
    entry,
    ageMs: 12_345,
    ...over,
  } satisfies CacheResult<unknown>
}

function get(headers: Record<string, string> = {}, method = 'GET') {
  return new Request('http://local/report', { method, headers })
}

describe('cacheControl', () => {
  it('revalidates every time when no max-age is given, so a write is seen at once', () => {
    expect(cacheControl()).toBe('public, no-cache')
    expect(cacheControl({ visibility: 'private' })).toBe('private, no-cache')
  })

  it('writes every directive in whole seconds', () => {
    expect(
      cacheControl({
        maxAge: '30s',
        sMaxAge: '5m',
        staleWhileRevalidate: '1m',
        staleIfError: '1h',
        immutable: true,
      }),
    ).toBe(
      'public, max-age=30, s-maxage=300, stale-while-revalidate=60, stale-if-error=3600, immutable',
    )
    expect(cacheControl({ maxAge: 1_999 })).toBe('public, max-age=1')
  })

  it('takes the fresh lifetime of the entry with maxAge "entry"', () => {
    expect(cacheControl({ maxAge: 'entry' }, entry)).toBe('public, max-age=60')
    expect(cacheControl({ maxAge: 'entry' }, { ...entry, freshUntil: Infinity })).toBe(
      'public, max-age=31536000',
    )
  })

  it('drops s-maxage for a private response and everything for no-store', () => {
    expect(cacheControl({ visibility: 'private', maxAge: '10s', sMaxAge: '1m' })).toBe(
      'private, max-age=10',
    )
    expect(cacheControl({ noStore: true, maxAge: '10s' })).toBe('no-store')
  })

  it('refuses bad policies with a CacheError naming the field', () => {
    expect(() => cacheControl({ maxAge: -1 })).toThrow(
      expect.objectContaining({
        code: 'E_INVALID_OPTION',
        message: expect.stringContaining('http policy.maxAge'),
      }),
    )
    expect(() => cacheControl({ maxAge: '10 parsecs' })).toThrow(
      expect.objectContaining({ code: 'E_INVALID_OPTION' }),
    )
    expect(() => cacheControl({ visibility: 'everyone' as 'public' })).toThrow(
      /http policy\.visibility/,
    )
    expect(() => cacheControl({ maxAg: '1s' } as object)).toThrow(/maxAg/)
    expect(() => cacheControl({ vary: ['Accept Language'] })).toThrow(/http policy\.vary/)
  })
})

describe('cacheHeaders', () => {
  it('marks a hit with the layer and its age in seconds', () => {
    const headers = cacheHeaders(result('hit'), { maxAge: '30s' })
    expect(headers.get('x-cache')).toBe('HIT')
    expect(headers.get('x-cache-layer')).toBe('memory')
    expect(headers.get('age')).toBe('12')
    expect(headers.get('cache-control')).toBe('public, max-age=30')
    expect(headers.get('etag')).toBe(entityTag(entry))
  })

  it('marks a miss without Age or layer, and a stale value as STALE', () => {
    const miss = cacheHeaders(result('miss'))
    expect(miss.get('x-cache')).toBe('MISS')
    expect(miss.has('age')).toBe(false)
    expect(miss.has('x-cache-layer')).toBe(false)
    expect(cacheHeaders(result('stale', { layer: 'redis' })).get('x-cache')).toBe('STALE')
    expect(cacheHeaders(result('stale', { layer: 'redis' })).get('x-cache-layer')).toBe('redis')
  })

  it('sends no ETag for a value that was not stored', () => {
    expect(cacheHeaders(result('miss', { entry: undefined, ageMs: undefined })).has('etag')).toBe(
      false,
    )
  })

  it('writes CDN-Cache-Control, Surrogate-Control and Vary, keeping headers given', () => {
    const headers = cacheHeaders(
      result('hit'),
      {
        maxAge: '10s',
        cdn: { maxAge: '5m', staleWhileRevalidate: '1m' },
        surrogate: { staleIfError: '1d' },
        vary: ['Accept-Language', 'accept'],
      },
      { 'content-type': 'text/plain', vary: 'Accept' },
    )
    expect(headers.get('cdn-cache-control')).toBe('max-age=300, stale-while-revalidate=60')
    // Without its own max-age, a shared cache gets the entry's fresh lifetime.
    expect(headers.get('surrogate-control')).toBe('max-age=60, stale-if-error=86400')
    expect(headers.get('vary')).toBe('Accept, Accept-Language')
    expect(headers.get('content-type')).toBe('text/plain')
  })

  it('keeps an ETag the caller set', () => {
    expect(cacheHeaders(result('hit'), {}, { etag: '"mine"' }).get('etag')).toBe('"mine"')
  })
})

describe('entityTag', () => {
  it('is weak, changes with the computation and with the key', () => {
    const tag = entityTag(entry)
    expect(tag).toMatch(/^W\/"[0-9a-z]+-[0-9a-z]+"$/)
    expect(entityTag({ ...entry })).toBe(tag)
    expect(entityTag({ ...entry, createdAt: entry.createdAt + 1 })).not.toBe(tag)
    expect(entityTag(entry, 'a')).not.toBe(entityTag(entry, 'b'))
  })
})

describe('ifNoneMatch and notModified', () => {
  it('compares weakly, in lists, and matches *', () => {
    expect(ifNoneMatch(get({ 'if-none-match': '"abc"' }), 'W/"abc"')).toBe(true)
    expect(ifNoneMatch(get({ 'if-none-match': 'W/"abc"' }), '"abc"')).toBe(true)
    expect(ifNoneMatch(get({ 'if-none-match': '"x", W/"abc" , "y"' }), 'W/"abc"')).toBe(true)
    expect(ifNoneMatch(get({ 'if-none-match': '"a,b"' }), '"a,b"')).toBe(true)
    expect(ifNoneMatch(get({ 'if-none-match': '"a,b"' }), '"a"')).toBe(false)
    expect(ifNoneMatch(get({ 'if-none-match': '*' }), '"anything"')).toBe(true)
    expect(ifNoneMatch(get({ 'if-none-match': '"abd"' }), '"abc"')).toBe(false)
    expect(ifNoneMatch(get(), '"abc"')).toBe(false)
  })

  it('answers 304 without a body, keeping the validators and cache headers', async () => {
    const headers = cacheHeaders(
      result('hit'),
      { maxAge: '30s', vary: ['Accept'] },
      {
        'content-type': 'application/json',
      },
    )
    const response = notModified(get({ 'if-none-match': headers.get('etag')! }), headers)!
    expect(response.status).toBe(304)
    expect(await response.text()).toBe('')
    expect(response.headers.get('etag')).toBe(headers.get('etag'))
    expect(response.headers.get('cache-control')).toBe('public, max-age=30')
    expect(response.headers.get('vary')).toBe('Accept')
    expect(response.headers.get('x-cache')).toBe('HIT')
    expect(response.headers.has('content-type')).toBe(false)
  })

  it('answers nothing for other methods, other tags, or no ETag', () => {
    const headers = cacheHeaders(result('hit'))
    const etag = headers.get('etag')!
    expect(notModified(get({ 'if-none-match': etag }, 'POST'), headers)).toBeUndefined()
    expect(notModified(get({ 'if-none-match': '"other"' }), headers)).toBeUndefined()
    expect(notModified(get({ 'if-none-match': '*' }), new Headers())).toBeUndefined()
    expect(notModified(get({ 'if-none-match': etag }, 'HEAD'), headers)?.status).toBe(304)
  })
})

describe('respond', () => {
  it('serves a cached value as JSON: MISS, then HIT with Age, then 304', async () => {
    const clock = manualClock()
    const cache = createCache({ clock, layers: [memoryLayer()] })
    const load = () => cache.wrapResult('report:1', async () => ({ total: 42 }))
    const first = respond(get(), await load(), { key: 'report:1', policy: { maxAge: '10s' } })
    expect(first.status).toBe(200)
    expect(first.headers.get('x-cache')).toBe('MISS')
    expect(first.headers.get('content-type')).toBe('application/json; charset=utf-8')
    expect(await first.json()).toEqual({ total: 42 })
    clock.advance(3_500)
    const second = respond(get(), await load(), { key: 'report:1', policy: { maxAge: '10s' } })
    expect(second.headers.get('x-cache')).toBe('HIT')
    expect(second.headers.get('x-cache-layer')).toBe('memory')
    expect(second.headers.get('age')).toBe('3')
    const etag = second.headers.get('etag')!
    expect(etag).toBe(first.headers.get('etag'))
    const third = respond(get({ 'if-none-match': etag }), await load(), { key: 'report:1' })
    expect(third.status).toBe(304)
    expect(await third.text()).toBe('')
    await cache.close()
  })

  it('changes the ETag after an invalidation recomputes the value', async () => {
    const clock = manualClock()
    const cache = createCache({ clock })
    let n = 0
    const load = () => cache.wrapResult('r', async () => ++n, { tags: ['t'] })
    const before = respond(get(), await load()).headers.get('etag')!
    clock.advance(1)
    await cache.invalidateTags(['t'])
    const after = respond(get({ 'if-none-match': before }), await load())
    expect(after.status).toBe(200)
    expect(await after.json()).toBe(2)
    expect(after.headers.get('etag')).not.toBe(before)
    await settle()
    await cache.close()
  })

  it('sends HEAD without a body, and uses a custom body and status', async () => {
    const head = respond(get({}, 'HEAD'), result('hit'))
    expect(await head.text()).toBe('')
    expect(head.headers.get('x-cache')).toBe('HIT')
    const csv = respond(get(), result('hit', { value: [1, 2] }), {
      status: 203,
      body: (value) => (value as number[]).join(','),
      contentType: 'text/csv',
    })
    expect(csv.status).toBe(203)
    expect(csv.headers.get('content-type')).toBe('text/csv')
    expect(await csv.text()).toBe('1,2')
  })
})
