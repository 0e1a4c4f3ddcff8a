import { describe, expect, it } from 'vitest'
import { type CacheOptions, createCache, memoryLayer } from '../../src/index.js'
import { manualClock } from '../helpers/clock.js'
import { MapLayer } from '../helpers/map-layer.js'

function twoLayers(policies?: CacheOptions['policies']) {
  const clock = manualClock()
  const l1 = memoryLayer({ name: 'l1' })
  const l2 = new MapLayer('l2')
  const cache = createCache({ clock, layers: [l1, l2], policies })
  return { clock, l1, l2, cache }
}

describe('read path and backfill across layers', () => {
  it('writes through to every layer', async () => {
    const { l1, l2, cache } = twoLayers()
    await cache.set('k', 'v', { ttl: '1m' })
    expect(l1.get('k')?.value).toBe('v')
    expect((await l2.get('k'))?.value).toBe('v')
    expect(l2.ttls.get('k')).toBe(60_000)
  })

  it('serves a lower-layer hit and backfills the layer above with the remaining life', async () => {
    const { clock, l1, l2, cache } = twoLayers()
    await cache.set('k', 'v', { ttl: '1m' })
    l1.delete('k')
    clock.advance(45_000)
    const hits: string[] = []
    cache.on('hit', (e) => hits.push(e.layer))
    expect(await cache.get('k')).toBe('v')
    expect(hits).toEqual(['l2'])
    expect(l1.get('k')?.value).toBe('v')
    // The backfilled copy dies with the entry (15s left), not a full TTL later.
    clock.advance(14_999)
    expect(l1.get('k')?.value).toBe('v')
    clock.advance(1)
    expect(l1.get('k')).toBeUndefined()
    expect(l2.calls.get).toBe(1)
  })

  it('never backfills for longer than the upper layer TTL of the entry policy', async () => {
    const { clock, l1, l2, cache } = twoLayers({
      analytics: { ttl: '1h', layers: { l1: { ttl: '60s' } } },
    })
    await cache.set('k', 'v', { policy: 'analytics' })
    expect(l2.ttls.get('k')).toBe(3_600_000)
    clock.advance(60_000)
    expect(l1.get('k')).toBeUndefined()
    // A plain get (no policy named) still applies the entry's own policy to the backfill.
    expect(await cache.get('k')).toBe('v')
    clock.advance(59_999)
    expect(l1.get('k')?.value).toBe('v')
    clock.advance(1)
    expect(l1.get('k')).toBeUndefined()
    expect(await cache.get('k')).toBe('v')
    expect(l2.calls.get).toBe(2)
  })

  it('keeps a policy out of a layer whose TTL is 0', async () => {
    const { l1, l2, cache } = twoLayers({ big: { ttl: '1h', layers: { l1: { ttl: 0 } } } })
    await cache.set('k', 'v', { policy: 'big' })
    expect(l1.get('k')).toBeUndefined()
    expect(await cache.get('k')).toBe('v')
    expect(l1.get('k')).toBeUndefined()
    expect(l2.calls.get).toBe(1)
  })

  it('skips expired upper entries and reads on to a fresh lower one', async () => {
    const { clock, l2, cache } = twoLayers({ short: { ttl: '1h', layers: { l1: { ttl: '1s' } } } })
    await cache.wrap('k', async () => 'v', { policy: 'short' })
    clock.advance(2_000)
    expect(await cache.wrap('k', async () => 'recomputed')).toBe('v')
    expect(l2.calls.get).toBe(2) // the first wrap's miss, then this hit
  })

  it('backfills all layers above a hit in a three-layer cache', async () => {
    const clock = manualClock()
    const l1 = memoryLayer({ name: 'l1' })
    const l2 = new MapLayer('l2')
    const l3 = new MapLayer('l3')
    const cache = createCache({ clock, layers: [l1, l2, l3] })
    await cache.set('k', 'v', { ttl: '10m' })
    l1.delete('k')
    await l2.delete('k')
    expect(await cache.get('k')).toBe('v')
    expect(l1.get('k')?.value).toBe('v')
    await cache.close() // waits for the asynchronous backfill of l2
    expect((await l2.get('k'))?.value).toBe('v')
  })

  it('getMany reads each layer once, only for the keys still missing, and backfills them', async () => {
    const { l1, l2, cache } = twoLayers()
    await cache.set('a', 1)
    await cache.set('b', 2)
    l1.delete('b')
    expect(await cache.getMany(['a', 'b', 'c'])).toEqual([1, 2, undefined])
    expect(l2.calls.getMany).toBe(1)
    expect(l2.calls.get).toBe(0)
    expect(l1.get('b')?.value).toBe(2)
    const stats = cache.stats()
    expect(stats.hits).toBe(2)
    expect(stats.misses).toBe(1)
  })

  it('falls back to single calls where a layer has no batch method', async () => {
    const clock = manualClock()
    const l2 = new MapLayer('l2', undefined, false)
    const cache = createCache({ clock, layers: [memoryLayer({ name: 'l1' }), l2] })
    await cache.set('a', 1)
    await cache.set('b', 2)
    await cache.deleteMany(['a', 'b'])
    expect(l2.calls.delete).toBe(2)
    expect(await cache.getMany(['a', 'b'])).toEqual([undefined, undefined])
    expect(l2.calls.get).toBe(2)
  })
})
