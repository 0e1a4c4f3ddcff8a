import { describe, expect, it } from 'vitest'
import { type CacheEvents, createCache, memoryLayer, type PolicyOptions } from '../../src/index.js'
import { settle, track } from '../helpers/async.js'
import { manualClock } from '../helpers/clock.js'
import { deferred } from '../helpers/map-layer.js'

function swrCache(policy: PolicyOptions = {}) {
  const clock = manualClock()
  const cache = createCache({
    clock,
    policies: { default: { ttl: '1s', staleWhileRevalidate: '10s', ...policy } },
  })
  const stale: CacheEvents['stale'][] = []
  const refresh: CacheEvents['refresh'][] = []
  cache.on('stale', (e) => stale.push(e))
  cache.on('refresh', (e) => refresh.push(e))
  return { clock, cache, stale, refresh }
}

describe('staleWhileRevalidate', () => {
  it('serves an expired value within the window at once and refreshes it once in the background', async () => {
    const { clock, cache, stale, refresh } = swrCache()
    expect(await cache.wrap('k', async () => 'v1')).toBe('v1')
    clock.advance(1_500)
    const gate = deferred<string>()
    let runs = 0
    const factory = () => {
      runs++
      return gate.promise
    }
    // The refresh is still running (its gate is closed), yet the caller has its answer.
    expect(await cache.wrap('k', factory)).toBe('v1')
    expect(runs).toBe(1)
    expect(stale).toEqual([{ key: 'k', layer: 'memory', reason: 'revalidating' }])
    expect(refresh).toEqual([{ key: 'k', reason: 'stale' }])
    expect(cache.stats()).toMatchObject({ factoryRuns: 2, refreshes: 1, stale: 1, hits: 1 })
    gate.resolve('v2')
    await settle()
    expect(await cache.wrap('k', factory)).toBe('v2')
    expect(await cache.get('k')).toBe('v2')
    expect(runs).toBe(1)
    expect(refresh).toHaveLength(1)
    // The refreshed value has a full TTL from when it was written.
    clock.advance(999)
    expect(await cache.get('k')).toBe('v2')
  })

  it('still serves stale on the last millisecond of the window', async () => {
    const { clock, cache, stale } = swrCache()
    await cache.wrap('k', async () => 'v1')
    clock.advance(10_999) // ttl 1s + window 10s, minus 1ms
    const gate = deferred<string>()
    expect(await cache.wrap('k', () => gate.promise)).toBe('v1')
    expect(stale.map((e) => e.reason)).toEqual(['revalidating'])
    gate.resolve('v2')
    await settle()
    expect(await cache.get('k')).toBe('v2')
  })

  it('makes the caller wait for the factory once the window is over', async () => {
    const { clock, cache, stale, refresh } = swrCache()
    await cache.wrap('k', async () => 'v1')
    clock.advance(11_000) // ttl 1s + window 10s
    const gate = deferred<string>()
    const call = track(cache.wrap('k', () => gate.promise))
    await settle()
    expect(call.done).toBe(false)
    gate.resolve('v2')
    await settle()
    expect(call).toMatchObject({ done: true, value: 'v2' })
    expect(stale).toEqual([])
    expect(refresh).toEqual([])
    expect(cache.stats()).toMatchObject({ stale: 0, refreshes: 0, misses: 2 })
  })

  it('runs exactly one refresh for 100 concurrent stale wraps', async () => {
    const { clock, cache, refresh } = swrCache()
    await cache.wrap('k', async () => 'v1')
    clock.advance(2_000)
    const gate = deferred<string>()
    let runs = 0
    const factory = () => {
      runs++
      return gate.promise
    }
    const values = await Promise.all(Array.from({ length: 100 }, () => cache.wrap('k', factory)))
    expect(values).toEqual(Array(100).fill('v1'))
    expect(runs).toBe(1)
    expect(refresh).toHaveLength(1)
    expect(cache.stats()).toMatchObject({ refreshes: 1, factoryRuns: 2 })
    gate.resolve('v2')
    await settle()
    expect(await cache.wrap('k', factory)).toBe('v2')
    expect(runs).toBe(1)
  })

  it('does not start a second refresh while a slow one is still running', async () => {
    const { clock, cache, refresh } = swrCache()
    await cache.wrap('k', async () => 'v1')
    clock.advance(1_500)
    const gate = deferred<string>()
    let runs = 0
    const factory = () => {
      runs++
      return gate.promise
    }
    expect(await cache.wrap('k', factory)).toBe('v1')
    // Later stale reads, each in its own flight, arrive while the refresh still runs.
    for (let i = 0; i < 20; i++) {
      clock.advance(250)
      await settle()
      expect(await cache.wrap('k', factory)).toBe('v1')
    }
    expect(runs).toBe(1)
    expect(refresh).toHaveLength(1)
    gate.resolve('v2')
    await settle()
    expect(await cache.wrap('k', factory)).toBe('v2')
  })

  it('never overlaps two refreshes of one key under sustained load', async () => {
    const { clock, cache, refresh } = swrCache()
    await cache.wrap('k', async () => 'v0')
    const gates: ReturnType<typeof deferred<string>>[] = []
    let active = 0
    let maxActive = 0
    let runs = 0
    const factory = async () => {
      runs++
      active++
      maxActive = Math.max(maxActive, active)
      const gate = deferred<string>()
      gates.push(gate)
      try {
        return await gate.promise
      } finally {
        active--
      }
    }
    let resolved = 0
    for (let step = 0; step < 200; step++) {
      clock.advance(100)
      const values = await Promise.all([
        cache.wrap('k', factory),
        cache.wrap('k', factory),
        cache.wrap('k', factory),
      ])
      for (const value of values) expect(value).toMatch(/^v\d+$/)
      // Each refresh takes 0.7s of clock time: well inside the 10s window.
      if (step % 7 === 6 && resolved < gates.length) {
        gates[resolved]!.resolve(`v${resolved + 1}`)
        resolved++
      }
      await settle()
      expect(active).toBeLessThanOrEqual(1)
    }
    expect(maxActive).toBe(1)
    expect(runs).toBeGreaterThan(5) // it did refresh repeatedly...
    expect(runs).toBe(refresh.length) // ...each time as one background refresh
    expect(cache.stats().refreshes).toBe(runs)
  })

  it('get() and has() never return an expired value, even within the window', async () => {
    const { clock, cache, stale } = swrCache()
    await cache.wrap('k', async () => 'v1')
    clock.advance(1_000)
    expect(await cache.get('k')).toBeUndefined()
    expect(await cache.has('k')).toBe(false)
    expect(await cache.getMany(['k'])).toEqual([undefined])
    expect(stale).toEqual([])
    // The entry is still held: wrap serves it stale.
    const gate = deferred<string>()
    expect(await cache.wrap('k', () => gate.promise)).toBe('v1')
    expect(stale.map((e) => e.reason)).toEqual(['revalidating'])
    gate.resolve('v2')
    await settle()
  })

  it('serves stale from a lower layer that keeps the entry longer, naming that layer', async () => {
    const clock = manualClock()
    const cache = createCache({
      clock,
      layers: [memoryLayer({ name: 'l1' }), memoryLayer({ name: 'l2' })],
      policies: {
        default: { ttl: '1s', staleWhileRevalidate: '10s', layers: { l1: { ttl: '1s' } } },
      },
    })
    const stale: CacheEvents['stale'][] = []
    cache.on('stale', (e) => stale.push(e))
    await cache.wrap('k', async () => 'v1')
    clock.advance(5_000)
    const gate = deferred<string>()
    expect(await cache.wrap('k', () => gate.promise)).toBe('v1')
    expect(stale).toEqual([{ key: 'k', layer: 'l2', reason: 'revalidating' }])
    gate.resolve('v2')
    await settle()
    expect(await cache.get('k')).toBe('v2')
  })

  it('applies a per-call staleWhileRevalidate', async () => {
    const clock = manualClock()
    const cache = createCache({ clock, policies: { default: { ttl: '1s' } } })
    await cache.wrap('k', async () => 'v1', { staleWhileRevalidate: '5s' })
    clock.advance(3_000)
    const gate = deferred<string>()
    expect(await cache.wrap('k', () => gate.promise, { staleWhileRevalidate: '5s' })).toBe('v1')
    gate.resolve('v2')
    await settle()
    expect(await cache.get('k')).toBe('v2')
  })

  it('reports a failed refresh, keeps serving stale, and retries only after staleIfErrorRetry', async () => {
    const { clock, cache, stale, refresh } = swrCache({ staleIfErrorRetry: '3s' })
    const errors: CacheEvents['error'][] = []
    cache.on('error', (e) => errors.push(e))
    await cache.wrap('k', async () => 'v1')
    clock.advance(1_500)
    const boom = new Error('origin down')
    let runs = 0
    const failing = async () => {
      runs++
      throw boom
    }
    expect(await cache.wrap('k', failing)).toBe('v1')
    await settle()
    expect(runs).toBe(1)
    expect(errors).toEqual([{ error: boom, operation: 'refresh', key: 'k', layer: undefined }])
    expect(cache.stats().factoryErrors).toBe(1)
    clock.advance(2_999)
    expect(await cache.wrap('k', failing)).toBe('v1')
    await settle()
    expect(runs).toBe(1)
    expect(stale.at(-1)?.reason).toBe('error')
    clock.advance(1)
    expect(await cache.wrap('k', async () => 'v2')).toBe('v1')
    await settle()
    expect(refresh).toHaveLength(2)
    expect(await cache.get('k')).toBe('v2')
  })
})
