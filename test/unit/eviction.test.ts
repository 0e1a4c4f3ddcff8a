import { describe, expect, it } from 'vitest'
import { createCache, memoryLayer } from '../../src/index.js'

describe('memory layer bounds', () => {
  it('holds at most maxEntries, evicting the oldest first', async () => {
    const memory = memoryLayer({ maxEntries: 3 })
    const cache = createCache({ layers: [memory] })
    for (const key of ['a', 'b', 'c', 'd']) await cache.set(key, key)
    expect(memory.size).toBe(3)
    expect(await cache.get('a')).toBeUndefined()
    expect(await cache.getMany(['b', 'c', 'd'])).toEqual(['b', 'c', 'd'])
  })

  it('keeps an entry that was read over one that was not', async () => {
    const memory = memoryLayer({ maxEntries: 4 })
    const cache = createCache({ layers: [memory] })
    for (const key of ['a', 'b', 'c', 'd']) await cache.set(key, key)
    await cache.set('e', 'e') // 'a' goes
    expect(await cache.get('b')).toBe('b') // 'b' becomes recently used
    await cache.set('f', 'f')
    await cache.set('g', 'g')
    expect(memory.size).toBe(4)
    expect(await cache.get('b')).toBe('b')
    expect(await cache.get('c')).toBeUndefined()
    expect(await cache.get('d')).toBeUndefined()
  })

  it('stays within maxEntries under a long run of writes, reads and overwrites', async () => {
    const memory = memoryLayer({ maxEntries: 50 })
    const cache = createCache({ layers: [memory] })
    for (let i = 0; i < 2_000; i++) {
      await cache.set(`k${i % 120}`, i)
      if (i % 3 === 0) await cache.get(`k${(i * 7) % 120}`)
      if (i % 11 === 0) await cache.delete(`k${(i * 5) % 120}`)
      expect(memory.size).toBeLessThanOrEqual(50)
    }
    let held = 0
    for (let i = 0; i < 120; i++) if ((await cache.get(`k${i}`)) !== undefined) held++
    expect(held).toBe(memory.size)
  })

  it('holds at most maxBytes using a user sizeOf, evicting the oldest', async () => {
    const memory = memoryLayer({ maxBytes: 10_000, sizeOf: () => 2_000 })
    const cache = createCache({ layers: [memory] })
    for (let i = 0; i < 10; i++) await cache.set(`k${i}`, i)
    expect(memory.bytes).toBeLessThanOrEqual(10_000)
    // Each record costs 2,000 plus a small fixed overhead, so four fit.
    expect(memory.size).toBe(4)
    expect(await cache.getMany(['k5', 'k6', 'k7', 'k8', 'k9'])).toEqual([undefined, 6, 7, 8, 9])
  })

  it('bounds bytes by the estimated size of values when no sizeOf is given', async () => {
    const memory = memoryLayer({ maxBytes: '64kb' })
    const cache = createCache({ layers: [memory] })
    const big = 'x'.repeat(4_000) // about 8 kB as a JS string
    for (let i = 0; i < 50; i++) await cache.set(`k${i}`, { body: big, n: i })
    expect(memory.bytes).toBeLessThanOrEqual(64 * 1024)
    expect(memory.size).toBeGreaterThan(3)
    expect(memory.size).toBeLessThan(9)
    expect(await cache.get('k49')).toEqual({ body: big, n: 49 })
    expect(await cache.get('k0')).toBeUndefined()
  })

  it('accounts bytes of overwritten and deleted entries exactly', async () => {
    const memory = memoryLayer({ maxBytes: 100_000, sizeOf: (v) => Number(v) })
    const cache = createCache({ layers: [memory] })
    await cache.set('a', 1_000)
    const one = memory.bytes
    await cache.set('a', 3_000)
    expect(memory.bytes).toBe(one + 2_000)
    await cache.delete('a')
    expect(memory.bytes).toBe(0)
    await cache.set('b', 500)
    await cache.clear()
    expect(memory.bytes).toBe(0)
    expect(memory.size).toBe(0)
  })

  it('does not keep a value larger than the whole layer, and drops the older value of its key', async () => {
    const memory = memoryLayer({ maxBytes: '1kb', sizeOf: (v) => String(v).length })
    const cache = createCache({ layers: [memory] })
    await cache.set('k', 'small')
    await cache.set('other', 'kept')
    await cache.set('k', 'y'.repeat(5_000))
    expect(await cache.get('k')).toBeUndefined()
    expect(await cache.get('other')).toBe('kept')
  })

  it('counts expired entries out when they are read', async () => {
    let now = 0
    const memory = memoryLayer({ maxEntries: 10 })
    const cache = createCache({ layers: [memory], clock: { now: () => now } })
    await cache.set('k', 1, { ttl: 10 })
    now = 10
    expect(await cache.get('k')).toBeUndefined()
    expect(memory.size).toBe(0)
  })
})
