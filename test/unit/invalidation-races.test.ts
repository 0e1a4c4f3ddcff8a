import { describe, expect, it } from 'vitest'
import { createCache, type Entry, memoryLayer } from '../../src/index.js'
import { deferred, MapLayer } from '../helpers/map-layer.js'

/** A lower layer whose reads wait at a gate the test opens, to interleave a read with a write. */
class GatedLayer extends MapLayer {
  gate: Promise<void> | undefined
  override async get(key: string): Promise<Entry | undefined> {
    const entry = await super.get(key)
    if (this.gate) await this.gate
    return entry
  }
}

describe('no stale set: work that started before a mutation never lands after it', () => {
  it('does not cache a factory result when the key was deleted while it ran', async () => {
    const cache = createCache()
    await cache.set('k', 'v0')
    await cache.delete('k')
    const gate = deferred<string>()
    const sets: string[] = []
    cache.on('set', (e) => sets.push(e.key))
    const running = cache.wrap('k', () => gate.promise)
    await Promise.resolve()
    await cache.delete('k')
    gate.resolve('computed-before-delete')
    expect(await running).toBe('computed-before-delete') // its own caller still gets it
    expect(await cache.get('k')).toBeUndefined()
    expect(sets).toEqual([]) // nothing was written, so nothing is reported as written
    expect(cache.stats().sets).toBe(1) // the first set only
  })

  it('keeps a value set while a factory ran', async () => {
    const cache = createCache()
    const gate = deferred<string>()
    const running = cache.wrap('k', () => gate.promise)
    await cache.set('k', 'fresh')
    gate.resolve('old')
    await running
    expect(await cache.get('k')).toBe('fresh')
  })

  it('starts a new factory for callers that arrive after a delete', async () => {
    const cache = createCache()
    const first = deferred<string>()
    let runs = 0
    const a = cache.wrap('k', () => {
      runs++
      return first.promise
    })
    await Promise.resolve()
    await cache.delete('k')
    const b = cache.wrap('k', async () => {
      runs++
      return 'after-delete'
    })
    first.resolve('before-delete')
    expect(await a).toBe('before-delete')
    expect(await b).toBe('after-delete')
    expect(runs).toBe(2)
    expect(await cache.get('k')).toBe('after-delete')
  })

  it('does not cache a factory result across a clear', async () => {
    const cache = createCache()
    const gate = deferred<string>()
    const running = cache.wrap('k', () => gate.promise)
    await Promise.resolve()
    await cache.clear()
    gate.resolve('old')
    await running
    expect(await cache.get('k')).toBeUndefined()
  })

  it('does not backfill a value read from a lower layer before a delete resolved', async () => {
    const l2 = new GatedLayer('l2')
    const cache = createCache({ layers: [memoryLayer({ name: 'l1' }), l2] })
    await cache.set('k', 'old', { layers: { l1: { ttl: 0 } } })
    const gate = deferred<void>()
    l2.gate = gate.promise
    const reading = cache.get('k') // reads 'old' from l2, then waits at the gate
    await new Promise((resolve) => setImmediate(resolve))
    l2.gate = undefined
    await cache.delete('k')
    gate.resolve()
    expect(await reading).toBe('old') // concurrent with the delete: either answer is linearizable
    expect(await cache.get('k')).toBeUndefined() // but it must not have been copied into l1
  })

  it('does not let a read started after a delete join a read started before it', async () => {
    const l2 = new GatedLayer('l2')
    const cache = createCache({ layers: [memoryLayer({ name: 'l1' }), l2] })
    await cache.set('k', 'old', { layers: { l1: { ttl: 0 } } })
    const gate = deferred<void>()
    l2.gate = gate.promise
    const before = cache.get('k')
    await new Promise((resolve) => setImmediate(resolve))
    await cache.delete('k')
    const after = cache.get('k')
    gate.resolve()
    expect(await before).toBe('old')
    expect(await after).toBeUndefined()
  })

  it('does not backfill from a batch read that overlapped a delete', async () => {
    const l2 = new MapLayer('l2')
    const cache = createCache({ layers: [memoryLayer({ name: 'l1' }), l2] })
    await cache.set('a', 1, { layers: { l1: { ttl: 0 } } })
    const getMany = l2.getMany!
    const gate = deferred<void>()
    l2.getMany = async (keys) => {
      const entries = await getMany(keys)
      await gate.promise
      return entries
    }
    const reading = cache.getMany(['a'])
    await new Promise((resolve) => setImmediate(resolve))
    await cache.delete('a')
    gate.resolve()
    await reading
    expect(await cache.get('a')).toBeUndefined()
  })

  it('writes lower layers before upper ones, so an upper layer never holds a value a lower one lacks', async () => {
    const order: string[] = []
    const l1 = new MapLayer('l1')
    const l2 = new MapLayer('l2')
    for (const layer of [l1, l2]) {
      const set = layer.set.bind(layer)
      layer.set = async (key: string, entry: Entry, ttl: number) => {
        order.push(layer.name)
        await set(key, entry, ttl)
      }
    }
    const cache = createCache({ layers: [l1, l2] })
    await cache.set('k', 1)
    await cache.wrap('w', async () => 2)
    expect(order).toEqual(['l2', 'l1', 'l2', 'l1'])
  })
})
