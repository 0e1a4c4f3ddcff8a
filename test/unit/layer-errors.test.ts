import { describe, expect, it } from 'vitest'
import { createCache, memoryLayer } from '../../src/index.js'
import { MapLayer } from '../helpers/map-layer.js'

function withFailingL2() {
  const l2 = new MapLayer('l2')
  const cache = createCache({ layers: [memoryLayer({ name: 'l1' }), l2] })
  const errors: { operation: string; layer?: string; key?: string }[] = []
  cache.on('error', ({ operation, layer, key }) => errors.push({ operation, layer, key }))
  return { l2, cache, errors }
}

describe('a failing layer fails open', () => {
  it('serves wrap from the factory and the next call from L1 while L2 throws', async () => {
    const { l2, cache, errors } = withFailingL2()
    l2.failing = true
    let runs = 0
    expect(await cache.wrap('k', async () => ++runs)).toBe(1)
    expect(await cache.wrap('k', async () => ++runs)).toBe(1)
    expect(runs).toBe(1)
    expect(errors).toEqual([
      { operation: 'get', layer: 'l2', key: 'k' },
      { operation: 'set', layer: 'l2', key: 'k' },
    ])
    expect(cache.stats().errors).toBe(2)
    expect(cache.stats().layers.l2?.errors).toBe(2)
  })

  it('treats a failed read as a miss of that layer only', async () => {
    const { l2, cache } = withFailingL2()
    await cache.set('k', 'v')
    l2.failing = true
    expect(await cache.get('k')).toBe('v')
    expect(await cache.getMany(['k', 'other'])).toEqual(['v', undefined])
    expect(await cache.get('other')).toBeUndefined()
  })

  it('does not fail set, delete, deleteMany or clear', async () => {
    const { l2, cache, errors } = withFailingL2()
    l2.failing = true
    await cache.set('k', 'v')
    expect(await cache.get('k')).toBe('v')
    await cache.delete('k')
    expect(await cache.get('k')).toBeUndefined()
    await cache.deleteMany(['a', 'b'])
    await cache.clear()
    expect(errors.map((e) => e.operation)).toEqual(['set', 'delete', 'get', 'delete', 'clear'])
  })

  it('reports a failed backfill without failing the read', async () => {
    const l1 = new MapLayer('l1')
    const l2 = new MapLayer('l2')
    const cache = createCache({ layers: [l1, l2] })
    const errors: string[] = []
    cache.on('error', (e) => errors.push(`${e.operation} ${e.layer}`))
    await cache.set('k', 'v')
    await l1.delete('k')
    l1.failing = true
    expect(await cache.get('k')).toBe('v')
    await cache.close()
    expect(errors).toEqual(['get l1', 'backfill l1'])
  })

  it('treats a top layer that throws synchronously as a miss there', async () => {
    const top = memoryLayer({ name: 'l1' })
    const l2 = new MapLayer('l2')
    const cache = createCache({ layers: [top, l2] })
    await cache.set('k', 'v')
    top.get = () => {
      throw new Error('sync failure')
    }
    const errors: string[] = []
    cache.on('error', (e) => errors.push(`${e.operation} ${e.layer}`))
    expect(await cache.get('k')).toBe('v')
    expect(await cache.wrap('k', async () => 'x')).toBe('v')
    expect(errors).toEqual(['get l1', 'get l1'])
  })
})
