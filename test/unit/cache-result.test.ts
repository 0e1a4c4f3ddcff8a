import { describe, expect, it } from 'vitest'
import {
  type Cache,
  type CacheOptions,
  type CacheResult,
  createCache,
  type Factory,
  memoryLayer,
  type PolicyOptions,
  type WrapOptions,
} from '../../src/index.js'
import { gatedFactory, settle, track } from '../helpers/async.js'
import { manualClock } from '../helpers/clock.js'
import { expectCacheError } from '../helpers/errors.js'
import { MapLayer } from '../helpers/map-layer.js'

const START = 1_000_000 // manualClock's start

function oneLayer(policy: PolicyOptions = {}, options: Partial<CacheOptions> = {}) {
  const clock = manualClock(START)
  const cache = createCache({
    clock,
    policies: { default: { ttl: '1m', ...policy }, reports: { ttl: '1h', tags: ['reports'] } },
    ...options,
  })
  return { clock, cache }
}

function twoLayers() {
  const clock = manualClock(START)
  const l1 = memoryLayer({ name: 'l1' })
  const l2 = new MapLayer('l2')
  const cache = createCache({ clock, layers: [l1, l2], policies: { default: { ttl: '1m' } } })
  return { clock, l1, l2, cache }
}

describe('wrapResult: where a value came from', () => {
  it('reports a miss computed by the factory, then hits with the same envelope and a growing age', async () => {
    const { clock, cache } = oneLayer()
    const miss = await cache.wrapResult('k', () => {
      clock.advance(200) // the computation takes 200ms: its age counts from when it started
      return 'v'
    })
    expect(miss).toEqual({
      value: 'v',
      status: 'miss',
      layer: undefined,
      entry: {
        createdAt: START,
        freshUntil: START + 200 + 60_000,
        staleUntil: START + 200 + 60_000,
        tags: [],
        policy: 'default',
      },
      ageMs: 200,
    })
    clock.advance(4_800)
    let runs = 0
    const hit = await cache.wrapResult('k', () => {
      runs++
      return 'other'
    })
    expect(runs).toBe(0)
    expect(hit).toEqual({
      value: 'v',
      status: 'hit',
      layer: 'memory',
      entry: miss.entry,
      ageMs: 5_000,
    })
    // The envelope is what inspect shows in the layer.
    const [memory] = (await cache.inspect('k')).layers
    expect(memory).toMatchObject({
      state: 'fresh',
      createdAt: hit.entry!.createdAt,
      ageMs: hit.ageMs,
      ttlLeftMs: hit.entry!.freshUntil - clock.now(),
      tags: hit.entry!.tags,
      policy: hit.entry!.policy,
    })
    clock.advance(1_000)
    expect((await cache.wrapResult('k', () => 'other')).ageMs).toBe(6_000)
  })

  it('names the lower layer that served a hit, then the top layer it was copied into', async () => {
    const { clock, l1, cache } = twoLayers()
    const miss = await cache.wrapResult('k', () => 'v')
    expect(miss.status).toBe('miss')
    l1.delete('k') // only l2 holds it now
    clock.advance(1_000)
    const fromL2 = await cache.wrapResult('k', () => 'other')
    expect(fromL2).toEqual({
      value: 'v',
      status: 'hit',
      layer: 'l2',
      entry: miss.entry,
      ageMs: 1_000,
    })
    const fromL1 = await cache.wrapResult('k', () => 'other')
    expect(fromL1).toMatchObject({ value: 'v', status: 'hit', layer: 'l1', ageMs: 1_000 })
    expect(fromL1.entry).toEqual(miss.entry) // the backfilled copy keeps the envelope
  })

  it('reports a miss to every caller that joined one computation; the factory ran once', async () => {
    const { cache } = twoLayers()
    const factory = gatedFactory()
    const calls = Array.from({ length: 5 }, () => cache.wrapResult('k', factory))
    await settle()
    factory.gate.resolve('v')
    const results = await Promise.all(calls)
    expect(factory.runs).toBe(1)
    for (const result of results) {
      expect(result).toMatchObject({ value: 'v', status: 'miss', layer: undefined, ageMs: 0 })
      expect(result.entry).toEqual(results[0]!.entry)
    }
    expect(results[0]!.entry).toMatchObject({ createdAt: START, tags: [] })
    expect((await cache.wrapResult('k', factory)).status).toBe('hit')
  })

  it('reports stale, with the layer, for a value served while it revalidates', async () => {
    const { clock, cache } = oneLayer({ ttl: '1s', staleWhileRevalidate: '10s' })
    const first = await cache.wrapResult('k', () => 'v1')
    clock.advance(1_500)
    const refresh = gatedFactory()
    const calls = await Promise.all([
      cache.wrapResult('k', refresh),
      cache.wrapResult('k', refresh),
    ])
    for (const stale of calls) {
      expect(stale).toEqual({
        value: 'v1',
        status: 'stale',
        layer: 'memory',
        entry: first.entry,
        ageMs: 1_500,
      })
    }
    refresh.gate.resolve('v2')
    await settle()
    const fresh = await cache.wrapResult('k', refresh)
    expect(fresh).toMatchObject({ value: 'v2', status: 'hit', layer: 'memory', ageMs: 0 })
    expect(fresh.entry!.createdAt).toBe(START + 1_500)
    expect(refresh.runs).toBe(1)
  })

  it('reports stale for a value served because the factory failed (staleIfError)', async () => {
    const { clock, cache } = oneLayer({ ttl: '1s', staleIfError: '1m' })
    const first = await cache.wrapResult('k', () => 'v1')
    clock.advance(2_000)
    const failed = await cache.wrapResult('k', () => {
      throw new Error('origin down')
    })
    expect(failed).toEqual({
      value: 'v1',
      status: 'stale',
      layer: 'memory',
      entry: first.entry,
      ageMs: 2_000,
    })
    // Within the retry interval the factory is not called again: still stale, at once.
    let runs = 0
    const backingOff = await cache.wrapResult('k', () => {
      runs++
      return 'v2'
    })
    expect(runs).toBe(0)
    expect(backingOff).toMatchObject({ value: 'v1', status: 'stale', layer: 'memory' })
  })

  it('reports stale for a value served because the factory was slower than softTimeout', async () => {
    const { clock, cache } = oneLayer({ ttl: '1s', staleIfError: '1m', softTimeout: '200ms' })
    const first = await cache.wrapResult('k', () => 'v1')
    clock.advance(2_000)
    const slow = gatedFactory()
    const call = track(cache.wrapResult('k', slow))
    await settle()
    expect(call.done).toBe(false)
    clock.advance(200)
    await settle()
    expect(call).toMatchObject({ done: true })
    expect(call.value).toEqual({
      value: 'v1',
      status: 'stale',
      layer: 'memory',
      entry: first.entry,
      ageMs: 2_200,
    })
    slow.gate.resolve('v2')
    await settle()
    const late = await cache.wrapResult('k', slow)
    expect(late).toMatchObject({ value: 'v2', status: 'hit' })
    expect(late.entry!.createdAt).toBe(START + 2_000) // the computation the timeout left running
  })

  it('reports a factory answer that beat softTimeout as a miss', async () => {
    const { clock, cache } = oneLayer({ ttl: '1s', staleIfError: '1m', softTimeout: '200ms' })
    await cache.wrapResult('k', () => 'v1')
    clock.advance(2_000)
    const quick = gatedFactory()
    const call = track(cache.wrapResult('k', quick))
    await settle()
    clock.advance(100)
    quick.gate.resolve('v2')
    await settle()
    expect(call.value).toMatchObject({ value: 'v2', status: 'miss', layer: undefined })
    expect((call.value as CacheResult<string>).entry!.createdAt).toBe(START + 2_000)
  })

  it('has no entry and no age for a computed value that was not stored', async () => {
    const { cache } = oneLayer()
    const notStored = {
      value: 'v',
      status: 'miss',
      layer: undefined,
      entry: undefined,
      ageMs: undefined,
    }
    expect(
      await cache.wrapResult('skipped', (ctx) => {
        ctx.skip()
        return 'v'
      }),
    ).toEqual(notStored)
    expect(
      await cache.wrapResult('zero', (ctx) => {
        ctx.setTtl(0)
        return 'v'
      }),
    ).toEqual(notStored)
    expect(await cache.wrapResult('none', () => undefined)).toEqual({
      ...notStored,
      value: undefined,
    })
    // Nothing was stored: the next call computes again.
    expect((await cache.wrapResult('skipped', () => 'again')).status).toBe('miss')
    expect((await cache.wrapResult('none', () => undefined)).status).toBe('miss')
  })

  it('has no entry for a value whose tag was invalidated while it was computed', async () => {
    const { cache } = oneLayer()
    const slow = gatedFactory()
    const call = track(cache.wrapResult('k', slow, { tags: ['t'] }))
    await settle()
    await cache.invalidateTags(['t'])
    slow.gate.resolve('computed before the invalidation')
    await settle()
    expect(call.value).toEqual({
      value: 'computed before the invalidation',
      status: 'miss',
      layer: undefined,
      entry: undefined,
      ageMs: undefined,
    })
    expect(await cache.getResult('k')).toBeUndefined()
  })

  it('reports stale for a value served because the factory was slower than hardTimeout', async () => {
    const { clock, cache } = oneLayer({ ttl: '1s', staleIfError: '1m', hardTimeout: '500ms' })
    const first = await cache.wrapResult('k', () => 'v1')
    clock.advance(2_000)
    const slow = gatedFactory()
    const call = track(cache.wrapResult('k', slow))
    await settle()
    clock.advance(500)
    await settle()
    expect(call.value).toEqual({
      value: 'v1',
      status: 'stale',
      layer: 'memory',
      entry: first.entry,
      ageMs: 2_500,
    })
    slow.gate.resolve('v2')
    await settle()
  })

  it('has an entry for undefined cached by negativeTtl', async () => {
    const { cache } = oneLayer({ negativeTtl: '10s' })
    const miss = await cache.wrapResult('none', () => undefined)
    expect(miss).toMatchObject({ value: undefined, status: 'miss', ageMs: 0 })
    expect(miss.entry).toMatchObject({ createdAt: START, freshUntil: START + 10_000 })
    expect(await cache.wrapResult('none', () => 'found')).toMatchObject({
      value: undefined,
      status: 'hit',
      layer: 'memory',
    })
  })

  it('carries the tags of the call, of the value and of the factory in its entry', async () => {
    const { cache } = oneLayer()
    const fixed = await cache.wrapResult('a', () => 'v', { tags: ['user:1', 'team:2'] })
    expect(fixed.entry!.tags).toEqual(['user:1', 'team:2'])
    const ofValue = await cache.wrapResult('b', () => ({ id: 7 }), {
      tags: (value) => [`user:${value.id}`],
    })
    expect(ofValue.entry!.tags).toEqual(['user:7'])
    const fromContext = await cache.wrapResult(
      'c',
      (ctx) => {
        ctx.setTags(['extra'])
        return 'v'
      },
      { tags: ['base'] },
    )
    expect(fromContext.entry!.tags).toEqual(['base', 'extra'])
    expect((await cache.wrapResult('c', () => 'other')).entry!.tags).toEqual(['base', 'extra'])
  })

  it('shows the entry its own tags, not those the cache adds to track key prefixes', async () => {
    const cache = createCache({ clock: manualClock(), prefixes: true })
    const result = await cache.wrapResult('user:42:profile', () => 'v', { tags: ['users'] })
    expect(result.entry!.tags).toEqual(['users'])
    expect((await cache.getResult('user:42:profile'))!.entry!.tags).toEqual(['users'])
    expect((await cache.inspect('user:42:profile')).layers[0]!.tags).toEqual(['users'])
    // The prefix tags are there all the same: invalidating a prefix drops the entry.
    await cache.invalidatePrefix('user:42:')
    expect(await cache.getResult('user:42:profile')).toBeUndefined()
    await cache.close()
  })

  it('names the policy its entry was written under, also on a later hit without one', async () => {
    const { cache } = oneLayer()
    const miss = await cache.wrapResult('r', () => 'v', { policy: 'reports' })
    expect(miss.entry).toMatchObject({ policy: 'reports', tags: ['reports'] })
    expect(miss.entry!.freshUntil - miss.entry!.createdAt).toBe(3_600_000)
    expect((await cache.wrapResult('r', () => 'other')).entry!.policy).toBe('reports')
  })

  it('validates its factory, options and key as wrap does, naming wrapResult', async () => {
    const { cache } = oneLayer()
    await expectCacheError(
      () => cache.wrapResult('k', 'nope' as unknown as Factory<string>),
      'E_INVALID_OPTION',
      /wrapResult factory.*must be a function/,
    )
    await expectCacheError(
      () => cache.wrapResult('k', () => 'v', { tll: '1m' } as WrapOptions<string>),
      'E_INVALID_OPTION',
      'wrapResult options.tll',
    )
    await expectCacheError(
      () => cache.wrapResult('k', () => 'v', { policy: 'nope' }),
      'E_INVALID_OPTION',
      'wrapResult options.policy',
    )
    // Values are checked where the policy is resolved: the path still names wrapResult.
    await expectCacheError(
      () => cache.wrapResult('k', () => 'v', { ttl: -1 }),
      'E_INVALID_OPTION',
      'wrapResult options.ttl',
    )
    await expectCacheError(
      () => cache.wrapResult('k', () => 'v', { lock: 'distributed' }),
      'E_INVALID_OPTION',
      'wrapResult options.lock',
    )
    await expectCacheError(
      () => cache.wrapResult('tagged', () => 'v', { tags: () => [''] }),
      'E_INVALID_OPTION',
      'wrapResult options.tags(value)',
    )
    await expectCacheError(() => cache.wrapResult('', () => 'v'), 'E_INVALID_KEY', 'non-empty')
    // An invalid factory is refused even when the key is cached (the check comes first).
    await cache.set('cached', 'v')
    await expectCacheError(
      () => cache.wrapResult('cached', 42 as unknown as Factory<string>),
      'E_INVALID_OPTION',
      'wrapResult factory',
    )
    await cache.close()
    await expectCacheError(() => cache.wrapResult('k', () => 'v'), 'E_CLOSED', 'wrapResult()')
  })
})

/** The events a cache emitted, in order, as `name:key[:layer][:reason]`. */
function recordEvents(cache: Cache): string[] {
  const log: string[] = []
  cache.on('hit', (e) => log.push(`hit:${e.key}:${e.layer}`))
  cache.on('miss', (e) => log.push(`miss:${e.key}`))
  cache.on('set', (e) => log.push(`set:${e.key}`))
  cache.on('stale', (e) => log.push(`stale:${e.key}:${e.layer}:${e.reason}`))
  cache.on('refresh', (e) => log.push(`refresh:${e.key}:${e.reason}`))
  cache.on('error', (e) => log.push(`error:${e.operation}:${e.key}`))
  return log
}

describe('wrapResult counts and announces like wrap', () => {
  /** One scenario through `call` (wrap, or wrapResult's value): misses, hits, stale, errors. */
  async function scenario(use: 'wrap' | 'wrapResult') {
    const clock = manualClock(START)
    const l1 = memoryLayer({ name: 'l1' })
    const l2 = new MapLayer('l2')
    const cache = createCache({
      clock,
      layers: [l1, l2],
      policies: { default: { ttl: '1s', staleWhileRevalidate: '5s', staleIfError: '1m' } },
    })
    const events = recordEvents(cache)
    const call = async (key: string, factory: Factory<string>): Promise<string> =>
      use === 'wrap' ? cache.wrap(key, factory) : (await cache.wrapResult(key, factory)).value
    const values = [
      await call('a', () => 'a1'), // miss
      await call('a', () => 'a2'), // top hit
    ]
    l1.delete('b')
    await cache.set('b', 'b1')
    l1.delete('b')
    values.push(await call('b', () => 'b2')) // hit from l2
    clock.advance(2_000)
    values.push(await call('a', () => 'a3')) // stale, revalidating
    await settle()
    clock.advance(10_000)
    values.push(
      await call('a', () => {
        throw new Error('down')
      }),
    ) // stale after an error
    values.push(await call('c', () => 'c1')) // another miss
    await settle()
    return { values, events, stats: cache.stats() }
  }

  it('gives the same values, stats and events as wrap for the same calls', async () => {
    const viaWrap = await scenario('wrap')
    const viaResult = await scenario('wrapResult')
    expect(viaResult.values).toEqual(viaWrap.values)
    expect(viaResult.values).toEqual(['a1', 'a1', 'b1', 'a1', 'a3', 'c1'])
    expect(viaResult.events).toEqual(viaWrap.events)
    expect(viaResult.stats).toEqual(viaWrap.stats)
    expect(viaResult.stats).toMatchObject({ hits: 3, misses: 3, stale: 2, factoryRuns: 4 })
  })
})

describe('getResult', () => {
  it('is undefined on a miss, counted as one', async () => {
    const { cache } = oneLayer()
    const events = recordEvents(cache)
    expect(await cache.getResult('k')).toBeUndefined()
    expect(events).toEqual(['miss:k'])
    expect(cache.stats()).toMatchObject({ misses: 1, hits: 0 })
  })

  it('reports a hit with its layer, envelope and age, from the top or a lower layer', async () => {
    const { clock, l1, cache } = twoLayers()
    await cache.set('k', 'v', { tags: ['t'] })
    clock.advance(3_000)
    const top = await cache.getResult('k')
    expect(top).toEqual({
      value: 'v',
      status: 'hit',
      layer: 'l1',
      entry: {
        createdAt: START,
        freshUntil: START + 60_000,
        staleUntil: START + 60_000,
        tags: ['t'],
        policy: 'default',
      },
      ageMs: 3_000,
    })
    l1.delete('k')
    const lower = await cache.getResult('k')
    expect(lower).toEqual({ ...top, layer: 'l2' })
    expect((await cache.getResult('k'))?.layer).toBe('l1') // copied up by the read
    expect(cache.stats()).toMatchObject({ hits: 3, misses: 0 })
  })

  it('reports stale for a value whose tags were invalidated in stale mode', async () => {
    const { clock, cache } = oneLayer()
    const events = recordEvents(cache)
    await cache.set('k', 'v', { tags: ['t'] })
    clock.advance(1_000)
    await cache.invalidateTags(['t'], { mode: 'stale' })
    expect(await cache.getResult('k')).toMatchObject({
      value: 'v',
      status: 'stale',
      layer: 'memory',
      ageMs: 1_000,
    })
    expect(events).toContain('stale:k:memory:invalidated')
    await cache.invalidateTags(['t']) // expire mode: never served again
    expect(await cache.getResult('k')).toBeUndefined()
  })

  it('is undefined once the value expired, even within its stale window', async () => {
    const { clock, cache } = oneLayer({ ttl: '1s', staleWhileRevalidate: '10s' })
    await cache.set('k', 'v')
    clock.advance(999)
    expect((await cache.getResult('k'))?.status).toBe('hit')
    clock.advance(1)
    expect(await cache.getResult('k')).toBeUndefined() // only wrap serves an expired value
    expect(await cache.get('k')).toBeUndefined()
    await expectCacheError(() => cache.getResult(42 as unknown as string), 'E_INVALID_KEY', '42')
  })
})
