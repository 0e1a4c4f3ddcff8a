import { describe, expect, it } from 'vitest'
import { createCache, memoryLayer } from '../../src/index.js'
import { deferred, MapLayer } from '../helpers/map-layer.js'

describe('wrap: single flight per key', () => {
  it('runs the factory once for 1,000 concurrent misses of one key and shares its value', async () => {
    const cache = createCache()
    const gate = deferred<{ n: number }>()
    let runs = 0
    const calls = Array.from({ length: 1_000 }, () =>
      cache.wrap('hot', () => {
        runs++
        return gate.promise
      }),
    )
    gate.resolve({ n: 42 })
    const values = await Promise.all(calls)
    expect(runs).toBe(1)
    expect(values.every((v) => v === values[0])).toBe(true)
    expect(values[0]).toEqual({ n: 42 })
    expect(cache.stats().factoryRuns).toBe(1)
  })

  it('runs factories of different keys independently', async () => {
    const cache = createCache()
    const runs: string[] = []
    await Promise.all(
      ['a', 'b', 'a', 'b', 'c'].map((key) =>
        cache.wrap(key, async () => {
          runs.push(key)
          return key
        }),
      ),
    )
    expect(runs.sort()).toEqual(['a', 'b', 'c'])
  })

  it('shares one factory error with every concurrent caller and does not cache it', async () => {
    const cache = createCache()
    const gate = deferred<string>()
    let runs = 0
    const calls = Array.from({ length: 1_000 }, () =>
      cache.wrap('k', () => {
        runs++
        return gate.promise
      }),
    )
    const boom = new Error('database down')
    gate.reject(boom)
    const results = await Promise.allSettled(calls)
    expect(runs).toBe(1)
    for (const result of results) {
      expect(result.status).toBe('rejected')
      expect((result as PromiseRejectedResult).reason).toBe(boom)
    }
    expect(await cache.has('k')).toBe(false)
    expect(await cache.wrap('k', async () => 'recovered')).toBe('recovered')
    expect(runs).toBe(1)
  })

  it('treats a factory that throws synchronously like a rejected one', async () => {
    const cache = createCache()
    await expect(
      cache.wrap('k', () => {
        throw new Error('sync')
      }),
    ).rejects.toThrow('sync')
    expect(await cache.wrap('k', () => 'ok')).toBe('ok')
  })

  it('does not cache undefined from a factory', async () => {
    const cache = createCache()
    let runs = 0
    await cache.wrap('k', async () => {
      runs++
      return undefined
    })
    await cache.wrap('k', async () => {
      runs++
      return undefined
    })
    expect(runs).toBe(2)
  })

  it('caches null (only undefined means "nothing")', async () => {
    const cache = createCache()
    let runs = 0
    const factory = async () => {
      runs++
      return null
    }
    expect(await cache.wrap('k', factory)).toBeNull()
    expect(await cache.wrap('k', factory)).toBeNull()
    expect(runs).toBe(1)
  })

  it('reads a lower layer once for concurrent misses of the upper one', async () => {
    const l2 = new MapLayer('l2')
    const cache = createCache({ layers: [memoryLayer({ name: 'l1' }), l2] })
    await cache.set('k', 'v')
    await cache.delete('k')
    await l2.set(
      'k',
      { value: 'v', createdAt: 0, freshUntil: Infinity, staleUntil: Infinity },
      60_000,
    )
    l2.calls.get = 0
    const values = await Promise.all(Array.from({ length: 100 }, () => cache.get('k')))
    expect(values.every((v) => v === 'v')).toBe(true)
    expect(l2.calls.get).toBe(1)
    const wrapped = await Promise.all(
      Array.from({ length: 100 }, () => cache.wrap('k', async () => 'x')),
    )
    expect(wrapped.every((v) => v === 'v')).toBe(true)
    expect(l2.calls.get).toBe(1)
  })
})
