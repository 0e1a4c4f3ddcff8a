import { describe, expect, it } from 'vitest'
import { createCache, memoryLayer } from '../../src/index.js'
import { MapLayer } from '../helpers/map-layer.js'

describe('events', () => {
  it('emits hit with the serving layer, miss, set and delete', async () => {
    const cache = createCache({ layers: [memoryLayer({ name: 'l1' }), new MapLayer('l2')] })
    const log: string[] = []
    cache.on('hit', (e) => log.push(`hit ${e.key} ${e.layer}`))
    cache.on('miss', (e) => log.push(`miss ${e.key}`))
    cache.on('set', (e) => log.push(`set ${e.key}`))
    cache.on('delete', (e) => log.push(`delete ${e.key}`))
    cache.on('clear', () => log.push('clear'))
    await cache.wrap('a', async () => 1)
    await cache.get('a')
    await cache.deleteMany(['a'])
    await cache.set('b', 2, { layers: { l1: { ttl: 0 } } })
    await cache.get('b')
    await cache.clear()
    expect(log).toEqual(['miss a', 'set a', 'hit a l1', 'delete a', 'set b', 'hit b l2', 'clear'])
  })

  it('unsubscribes with the returned function and with off()', async () => {
    const cache = createCache()
    let a = 0
    let b = 0
    const stop = cache.on('miss', () => a++)
    const listener = () => b++
    cache.on('miss', listener)
    await cache.get('x')
    stop()
    cache.off('miss', listener)
    await cache.get('x')
    expect([a, b]).toEqual([1, 1])
  })

  it('turns a throwing listener into an error event and keeps serving', async () => {
    const cache = createCache()
    const errors: string[] = []
    cache.on('error', (e) => errors.push(`${e.operation}: ${(e.error as Error).message}`))
    cache.on('set', () => {
      throw new Error('listener bug')
    })
    await cache.set('k', 1)
    expect(await cache.get('k')).toBe(1)
    expect(errors).toEqual(['listener:set: listener bug'])
    expect(cache.stats().errors).toBe(1)
  })

  it('survives a throwing error listener', async () => {
    const cache = createCache()
    cache.on('error', () => {
      throw new Error('error listener bug')
    })
    cache.on('miss', () => {
      throw new Error('miss listener bug')
    })
    expect(await cache.get('k')).toBeUndefined()
  })
})

describe('stats', () => {
  it('counts hits, misses, sets, deletes and factory runs, overall and per layer', async () => {
    const cache = createCache({ layers: [memoryLayer({ name: 'l1' }), new MapLayer('l2')] })
    await cache.wrap('a', async () => 1) // miss: l1 miss, l2 miss, factory, set
    await cache.wrap('a', async () => 1) // l1 hit
    await cache.set('b', 2, { layers: { l1: { ttl: 0 } } })
    await cache.get('b') // l1 miss, l2 hit
    await cache.get('c') // miss everywhere
    await cache.delete('a')
    expect(cache.stats()).toEqual({
      hits: 2,
      misses: 2,
      sets: 2,
      deletes: 1,
      stale: 0,
      invalidations: 0,
      factoryRuns: 1,
      refreshes: 0,
      factoryErrors: 0,
      timeouts: 0,
      errors: 0,
      layers: {
        l1: { hits: 1, misses: 3, sets: 1, deletes: 1, errors: 0, skipped: 0 },
        l2: { hits: 1, misses: 2, sets: 2, deletes: 1, errors: 0, skipped: 0 },
      },
    })
  })

  it('hands out snapshots and resets to zero', async () => {
    const cache = createCache()
    await cache.get('x')
    const before = cache.stats()
    await cache.get('x')
    expect(before.misses).toBe(1)
    cache.resetStats()
    expect(cache.stats().misses).toBe(0)
    expect(cache.stats().layers.memory).toEqual({
      hits: 0,
      misses: 0,
      sets: 0,
      deletes: 0,
      errors: 0,
      skipped: 0,
    })
  })
})
