import { describe, expect, it } from 'vitest'
import { createCache, type Entry, memoryLayer } from '../../src/index.js'
import { MapLayer } from '../helpers/map-layer.js'

describe('long keys', () => {
  const long = (tail: string) => `report:${'x'.repeat(500)}:${tail}`

  it('stores keys above maxKeyLength under a fixed-length hash and reads them back', async () => {
    const l2 = new MapLayer('l2')
    const cache = createCache({ layers: [memoryLayer(), l2] })
    await cache.set(long('a'), 'A')
    await cache.set(long('b'), 'B')
    expect(await cache.get(long('a'))).toBe('A')
    expect(await cache.get(long('b'))).toBe('B')
    const stored = [...l2.store.keys()]
    expect(stored.every((k) => k.length < 40)).toBe(true)
    expect(new Set(stored).size).toBe(2)
  })

  it("treats a hash collision as a miss, never as the other key's value", async () => {
    const l2 = new MapLayer('l2')
    const cache = createCache({ layers: [l2] })
    await cache.set(long('a'), 'A')
    const [storedKey] = [...l2.store.keys()]
    // Forge a collision: another long key's entry under the same store key.
    const forged: Entry = {
      value: 'WRONG',
      createdAt: 0,
      freshUntil: Infinity,
      staleUntil: Infinity,
      key: long('z'),
    }
    l2.store.set(storedKey!, { entry: forged, expiresAt: Infinity })
    expect(await cache.get(long('a'))).toBeUndefined()
    expect(await cache.wrap(long('a'), async () => 'recomputed')).toBe('recomputed')
    expect(await cache.get(long('a'))).toBe('recomputed')
  })

  it('never lets a short key that looks like a hash read a hashed entry', async () => {
    const l2 = new MapLayer('l2')
    const cache = createCache({ layers: [l2] })
    await cache.set(long('a'), 'A')
    const storedKey = [...l2.store.keys()][0]!.slice('default:'.length)
    expect(storedKey.startsWith('#h:')).toBe(true)
    expect(await cache.get(storedKey)).toBeUndefined()
  })

  it('honours a custom maxKeyLength', async () => {
    const l2 = new MapLayer('l2')
    const cache = createCache({ layers: [l2], maxKeyLength: 32 })
    await cache.set('k'.repeat(32), 1)
    await cache.set('k'.repeat(33), 2)
    const stored = [...l2.store.keys()].map((k) => k.slice('default:'.length))
    expect(stored).toContain('k'.repeat(32))
    expect(stored.filter((k) => k.startsWith('#h:'))).toHaveLength(1)
    expect(await cache.getMany(['k'.repeat(32), 'k'.repeat(33)])).toEqual([1, 2])
  })
})

describe('namespaces', () => {
  it('isolate caches that share a store: no reads, deletes or clears across them', async () => {
    const shared = new Map()
    const shop = createCache({ namespace: 'shop', layers: [new MapLayer('store', shared)] })
    const blog = createCache({ namespace: 'blog', layers: [new MapLayer('store', shared)] })
    await shop.set('user:1', 'shop-user')
    await blog.set('user:1', 'blog-user')
    expect(await shop.get('user:1')).toBe('shop-user')
    expect(await blog.get('user:1')).toBe('blog-user')
    await blog.delete('user:1')
    expect(await shop.get('user:1')).toBe('shop-user')
    await blog.set('other', 1)
    await blog.clear()
    expect(await shop.get('user:1')).toBe('shop-user')
    expect([...shared.keys()]).toEqual(['shop:user:1'])
  })

  it('hands each layer the namespace and clock once', async () => {
    const seen: string[] = []
    const layer = new MapLayer('l')
    const bind = layer.bind.bind(layer)
    layer.bind = (ctx) => {
      seen.push(ctx.namespace)
      bind(ctx)
    }
    createCache({ namespace: 'tenant-a.prod_1', layers: [layer] })
    expect(seen).toEqual(['tenant-a.prod_1'])
  })

  it('treats keys with pattern characters as plain strings', async () => {
    const cache = createCache()
    await cache.set('user:*', 'star')
    await cache.set('user:1', 'one')
    await cache.delete('user:*')
    expect(await cache.get('user:1')).toBe('one')
    expect(await cache.get('user:*')).toBeUndefined()
  })
})
