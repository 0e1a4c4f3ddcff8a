import { describe, expect, it } from 'vitest'
import { type CacheEvents, createCache, type PolicyOptions } from '../../src/index.js'
import { settle } from '../helpers/async.js'
import { manualClock } from '../helpers/clock.js'

function sieCache(policy: PolicyOptions = {}) {
  const clock = manualClock()
  const cache = createCache({
    clock,
    policies: { default: { ttl: '1s', staleIfError: '1m', ...policy } },
  })
  const stale: CacheEvents['stale'][] = []
  const errors: CacheEvents['error'][] = []
  cache.on('stale', (e) => stale.push(e))
  cache.on('error', (e) => errors.push(e))
  return { clock, cache, stale, errors }
}

/** A factory that always throws `error` and counts its calls. */
function failingFactory(error = new Error('origin down')) {
  const factory = Object.assign(
    async (): Promise<string> => {
      factory.calls++
      throw error
    },
    { calls: 0, error },
  )
  return factory
}

describe('staleIfError', () => {
  it('serves the expired value when the factory throws within the window', async () => {
    const { clock, cache, stale, errors } = sieCache()
    await cache.wrap('k', async () => 'v1')
    clock.advance(1_500)
    const failing = failingFactory()
    expect(await cache.wrap('k', failing)).toBe('v1')
    expect(failing.calls).toBe(1)
    expect(stale).toEqual([{ key: 'k', layer: 'memory', reason: 'error' }])
    expect(errors).toEqual([
      { error: failing.error, operation: 'factory', key: 'k', layer: undefined },
    ])
    expect(cache.stats()).toMatchObject({
      factoryErrors: 1,
      factoryRuns: 2,
      stale: 1,
      misses: 2, // the first wrap, and this foreground wait that ended serving stale
      hits: 0,
      errors: 1,
    })
  })

  it('does not serve stale before a factory failed: a working origin answers', async () => {
    const { clock, cache, stale } = sieCache()
    await cache.wrap('k', async () => 'v1')
    clock.advance(1_500)
    expect(await cache.wrap('k', async () => 'v2')).toBe('v2')
    expect(stale).toEqual([])
  })

  it('throws the factory error to the caller once the window is over', async () => {
    const { clock, cache, stale } = sieCache()
    await cache.wrap('k', async () => 'v1')
    clock.advance(61_000) // ttl 1s + staleIfError 1m
    const failing = failingFactory()
    await expect(cache.wrap('k', failing)).rejects.toBe(failing.error)
    expect(stale).toEqual([])
    expect(cache.stats().factoryErrors).toBe(1)
    // No back-off without a stale value: the next caller tries the origin again.
    await expect(cache.wrap('k', failing)).rejects.toBe(failing.error)
    expect(failing.calls).toBe(2)
  })

  it('throws the factory error when there never was a value', async () => {
    const { cache } = sieCache()
    const failing = failingFactory()
    await expect(cache.wrap('k', failing)).rejects.toBe(failing.error)
    expect(cache.stats().factoryErrors).toBe(1)
  })

  it('backs off: the factory is not called again during staleIfErrorRetry, then once more', async () => {
    const { clock, cache, stale } = sieCache({ staleIfErrorRetry: '5s' })
    await cache.wrap('k', async () => 'v1')
    clock.advance(1_500)
    const failing = failingFactory()
    expect(await cache.wrap('k', failing)).toBe('v1')
    expect(failing.calls).toBe(1)
    for (const step of [1, 1_000, 3_998]) {
      clock.advance(step)
      expect(await cache.wrap('k', failing)).toBe('v1')
    }
    expect(failing.calls).toBe(1) // 4_999ms after the failure: still backing off
    expect(stale.map((e) => e.reason)).toEqual(['error', 'error', 'error', 'error'])
    clock.advance(1) // 5s after the failure
    expect(await cache.wrap('k', failing)).toBe('v1')
    expect(failing.calls).toBe(2)
    expect(cache.stats().factoryErrors).toBe(2)
    // The second failure starts a new back-off.
    clock.advance(4_999)
    expect(await cache.wrap('k', failing)).toBe('v1')
    expect(failing.calls).toBe(2)
    // A working origin, once the back-off is over, replaces the value.
    clock.advance(1)
    expect(await cache.wrap('k', async () => 'v2')).toBe('v2')
    expect(await cache.get('k')).toBe('v2')
  })

  it('backs off per key: another key still calls its factory', async () => {
    const { clock, cache } = sieCache()
    await cache.wrap('a', async () => 'a1')
    await cache.wrap('b', async () => 'b1')
    clock.advance(1_500)
    const failing = failingFactory()
    expect(await cache.wrap('a', failing)).toBe('a1')
    expect(await cache.wrap('b', failing)).toBe('b1')
    expect(failing.calls).toBe(2)
    expect(await cache.wrap('a', failing)).toBe('a1')
    expect(await cache.wrap('b', failing)).toBe('b1')
    expect(failing.calls).toBe(2)
  })

  it('a key deleted during its back-off computes again for new callers', async () => {
    const { clock, cache } = sieCache()
    await cache.wrap('k', async () => 'v1')
    clock.advance(1_500)
    const failing = failingFactory()
    expect(await cache.wrap('k', failing)).toBe('v1')
    await cache.delete('k')
    // Nothing stale left to serve: the caller waits for the factory (no back-off applies).
    expect(await cache.wrap('k', async () => 'v2')).toBe('v2')
  })

  it('origin failing for a minute under load: callers always get stale, the origin is asked once per retry interval', async () => {
    const { clock, cache, errors } = sieCache({ staleIfError: '2m', staleIfErrorRetry: '5s' })
    await cache.wrap('k', async () => 'v1')
    clock.advance(1_000) // expired from now on
    const failing = failingFactory()
    const served = new Set<unknown>()
    let calls = 0
    for (let step = 0; step < 600; step++) {
      // 60s in steps of 100ms, with concurrent and sequential callers at each step.
      const values = await Promise.all([
        cache.wrap('k', failing),
        cache.wrap('k', failing),
        cache.wrap('k', failing),
      ])
      values.push(await cache.wrap('k', failing))
      calls += values.length
      for (const value of values) served.add(value)
      clock.advance(100)
    }
    expect(calls).toBe(2_400)
    expect([...served]).toEqual(['v1'])
    // Tried at 0s, 5s, ..., 55s: 60s / 5s, never once per request.
    expect(failing.calls).toBe(12)
    expect(cache.stats().factoryErrors).toBe(12)
    expect(errors.filter((e) => e.operation === 'factory')).toHaveLength(12)
    // Counted per flight: the three concurrent callers of a step share one.
    expect(cache.stats().stale).toBe(1_200)
  })

  it('origin recovering after an outage: fresh values again, the factory called once per TTL', async () => {
    const { clock, cache } = sieCache({ staleIfError: '2m', staleIfErrorRetry: '5s' })
    await cache.wrap('k', async () => 'v1')
    clock.advance(1_000)
    let up = false
    let calls = 0
    const origin = async () => {
      calls++
      if (!up) throw new Error('origin down')
      return `v${calls}`
    }
    const served: unknown[] = []
    for (let step = 0; step < 300; step++) {
      if (step === 120) up = true // the origin comes back after 12s
      served.push(await cache.wrap('k', origin))
      clock.advance(100)
    }
    // Failing at 0s, 5s, 10s; back at 15s; then one run per 1s TTL until 30s.
    expect(calls).toBe(3 + 15)
    expect(served.slice(0, 150)).toEqual(Array(150).fill('v1'))
    expect(served[150]).toBe('v4')
    expect(served.at(-1)).toBe('v18')
    await settle()
  })
})
