import { describe, expect, it } from 'vitest'
import { createCache, type Layer, memoryLayer } from '../../src/index.js'
import { deferred, MapLayer } from '../helpers/map-layer.js'

describe('close()', () => {
  it('waits for running factories before closing the layers', async () => {
    const closed: string[] = []
    const l2 = new MapLayer('l2') as MapLayer & Layer
    l2.close = async () => {
      closed.push('l2')
    }
    const cache = createCache({ layers: [memoryLayer(), l2] })
    const gate = deferred<string>()
    const running = cache.wrap('k', () => gate.promise)
    const closing = cache.close()
    await Promise.resolve()
    expect(closed).toEqual([])
    gate.resolve('v')
    await closing
    expect(await running).toBe('v')
    expect(closed).toEqual(['l2'])
  })

  it('is safe to call twice and drops listeners', async () => {
    const cache = createCache()
    let misses = 0
    cache.on('miss', () => misses++)
    await cache.close()
    await cache.close()
    expect(misses).toBe(0)
  })

  it('reports a layer that fails to close without throwing', async () => {
    const l2 = new MapLayer('l2') as MapLayer & Layer
    l2.close = async () => {
      throw new Error('close failed')
    }
    const cache = createCache({ layers: [memoryLayer(), l2] })
    const errors: string[] = []
    cache.on('error', (e) => errors.push(`${e.operation} ${e.layer}`))
    await cache.close()
    expect(errors).toEqual(['close l2'])
  })
})

describe('basic operations', () => {
  it('set/get/has/delete round trip, including undefined and null values', async () => {
    const cache = createCache()
    await cache.set('u', undefined)
    await cache.set('n', null)
    expect(await cache.has('u')).toBe(true)
    expect(await cache.get('u')).toBeUndefined()
    expect(await cache.get('n')).toBeNull()
    await cache.delete('n')
    expect(await cache.has('n')).toBe(false)
    await cache.delete('never-set')
  })

  it('returns values by reference from the memory layer (documented: treat them as read-only)', async () => {
    const cache = createCache()
    const value = { list: [1, 2] }
    await cache.set('k', value)
    expect(await cache.get('k')).toBe(value)
  })

  it('deleteMany removes exactly the given keys', async () => {
    const cache = createCache()
    for (const key of ['a', 'b', 'c']) await cache.set(key, key)
    await cache.deleteMany(['a', 'c', 'zzz'])
    expect(await cache.getMany(['a', 'b', 'c'])).toEqual([undefined, 'b', undefined])
    expect(cache.stats().deletes).toBe(3)
  })

  it('getMany handles an empty list and duplicate keys', async () => {
    const cache = createCache()
    await cache.set('a', 1)
    expect(await cache.getMany([])).toEqual([])
    expect(await cache.getMany(['a', 'a', 'b'])).toEqual([1, 1, undefined])
  })
})
