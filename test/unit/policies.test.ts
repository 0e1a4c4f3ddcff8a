import { describe, expect, it } from 'vitest'
import { createCache, memoryLayer } from '../../src/index.js'
import { manualClock } from '../helpers/clock.js'
import { MapLayer } from '../helpers/map-layer.js'

describe('policies', () => {
  it('named policies extend default and calls override any field', async () => {
    const clock = manualClock()
    const cache = createCache({
      clock,
      policies: {
        default: { ttl: '10m', tags: ['app'] },
        dashboard: { ttl: '5m' },
        tagged: { tags: ['t'] },
      },
    })
    await cache.set('d', 1, { policy: 'dashboard' })
    await cache.set('o', 1, { policy: 'dashboard', ttl: '30s' })
    await cache.set('def', 1)
    clock.advance(30_000)
    expect(await cache.get('o')).toBeUndefined()
    clock.advance(5 * 60_000 - 30_000)
    expect(await cache.get('d')).toBeUndefined()
    expect(await cache.get('def')).toBe(1)
    expect(cache.policyNames).toEqual(['default', 'dashboard', 'tagged'])
  })

  it('merges tags of default, the named policy and the call into the entry', async () => {
    const l2 = new MapLayer('l2')
    const cache = createCache({
      clock: manualClock(),
      layers: [memoryLayer(), l2],
      policies: { default: { tags: ['app'] }, users: { tags: ['users'] } },
    })
    await cache.set('k', 1, { policy: 'users', tags: ['user:42', 'users'] })
    expect((await l2.get('k'))?.tags).toEqual(['app', 'users', 'user:42'])
    expect((await l2.get('k'))?.policy).toBe('users')
  })

  it('applies per-layer TTLs by layer name', async () => {
    const l2 = new MapLayer('redis')
    const cache = createCache({
      clock: manualClock(),
      layers: [memoryLayer(), l2],
      policies: { analytics: { ttl: '1h', layers: { memory: { ttl: '60s' } } } },
    })
    await cache.set('k', 1, { policy: 'analytics' })
    expect(l2.ttls.get('k')).toBe(3_600_000)
    // A call may override one layer's TTL and keep the policy's others.
    await cache.set('k2', 1, { policy: 'analytics', layers: { redis: { ttl: '2h' } } })
    expect(l2.ttls.get('k2')).toBe(3_600_000) // capped by the entry's life (1h)
    await cache.set('k3', 1, { policy: 'analytics', ttl: '3h', layers: { redis: { ttl: '2h' } } })
    expect(l2.ttls.get('k3')).toBe(7_200_000)
  })

  it('takes a random fraction of the TTL off with jitter, deterministic under an injected random', async () => {
    const l2 = new MapLayer('l2')
    const cache = createCache({
      clock: manualClock(),
      layers: [memoryLayer(), l2],
      random: () => 0.5,
      policies: { spread: { ttl: '100s', jitter: 0.2 }, fixed: { ttl: '100s', jitter: '30s' } },
    })
    await cache.set('a', 1, { policy: 'spread' })
    expect(l2.ttls.get('a')).toBe(90_000)
    await cache.set('b', 1, { policy: 'fixed' })
    expect(l2.ttls.get('b')).toBe(85_000)
    await cache.wrap('c', async () => 1, { policy: 'spread' })
    expect(l2.ttls.get('c')).toBe(90_000)
  })

  it('jitters per-layer TTLs with the same draw and never lengthens a TTL', async () => {
    const l2 = new MapLayer('l2')
    const draws = [0.99, 0]
    const cache = createCache({
      clock: manualClock(),
      layers: [memoryLayer(), l2],
      random: () => draws.shift() ?? 0,
      policies: { p: { ttl: '10m', jitter: 0.5, layers: { l2: { ttl: '100s' } } } },
    })
    await cache.set('a', 1, { policy: 'p' })
    expect(l2.ttls.get('a')).toBeCloseTo(100_000 * (1 - 0.99 * 0.5))
    await cache.set('b', 1, { policy: 'p' })
    expect(l2.ttls.get('b')).toBe(100_000)
  })

  it('spreads expiries of many keys written at once', async () => {
    const l2 = new MapLayer('l2')
    const cache = createCache({
      clock: manualClock(),
      layers: [memoryLayer(), l2],
      policies: { default: { ttl: '1h', jitter: 0.1 } },
    })
    for (let i = 0; i < 200; i++) await cache.set(`k${i}`, i)
    const ttls = [...l2.ttls.values()]
    expect(new Set(ttls).size).toBeGreaterThan(150)
    expect(Math.max(...ttls)).toBeLessThanOrEqual(3_600_000)
    expect(Math.min(...ttls)).toBeGreaterThanOrEqual(3_240_000)
  })

  it('reuses the parse of an options object a caller passes again', async () => {
    const cache = createCache()
    const options = { ttl: '1m' }
    await cache.set('a', 1, options)
    await cache.set('b', 2, options)
    expect(await cache.getMany(['a', 'b'])).toEqual([1, 2])
  })
})
