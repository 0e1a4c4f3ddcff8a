import { afterEach, describe, expect, it } from 'vitest'
import { systemClock } from '../../src/core/clock.js'
import type { Entry } from '../../src/index.js'
import { type Cache, CacheError, createCache, memoryLayer } from '../../src/index.js'
import { MemoryTagStore, type TagStore } from '../../src/tags/tag-store.js'
import { type MemoryBus, memoryBusHub } from '../../src/testing/index.js'
import { manualClock } from '../helpers/clock.js'
import { MapLayer } from '../helpers/map-layer.js'

/** A shared store with shared tag state, as Redis is: one Map and one tag store for all. */
class SharedLayer extends MapLayer {
  constructor(
    store: Map<string, { entry: Entry; expiresAt: number }>,
    readonly tags: TagStore,
  ) {
    super('remote', store)
  }

  tagStore(): TagStore {
    return this.tags
  }
}

/** Lets queued microtasks and immediates (bus deliveries, background work) run. */
const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve))
}

const caches: Cache[] = []
afterEach(async () => {
  await Promise.all(caches.splice(0).map((cache) => cache.close()))
})

/**
 * Instances sharing one "remote" store (a MapLayer over one Map, standing in for Redis) under
 * their own memory layers, and one bus hub. `shared: false` gives each only its memory layer.
 */
function cluster(
  count: number,
  options: { shared?: boolean; clock?: ReturnType<typeof manualClock>; busTrust?: number } = {},
) {
  const hub = memoryBusHub()
  const remote = new Map<string, { entry: Entry; expiresAt: number }>()
  const tags = new MemoryTagStore(options.clock ?? systemClock)
  const instances = Array.from({ length: count }, () => {
    const bus = hub.bus()
    const layers =
      options.shared === false ? [memoryLayer()] : [memoryLayer(), new SharedLayer(remote, tags)]
    const cache = createCache({
      namespace: 'app',
      layers,
      bus,
      prefixes: true,
      tagTrust: '1h',
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.busTrust !== undefined ? { busTrust: options.busTrust } : {}),
    })
    caches.push(cache)
    return { cache, bus }
  })
  return { hub, instances, remote }
}

/** Warms `key` into every instance's memory layer through wrap (one computation in all). */
async function warm(caches: readonly Cache[], key: string, value: string, tags: string[] = []) {
  for (const cache of caches) expect(await cache.wrap(key, () => value, { tags })).toBe(value)
}

describe('bus: what one instance changes, the others drop from their memory layers', () => {
  it('delete', async () => {
    const { instances } = cluster(3)
    const [a, b, c] = instances.map((i) => i.cache) as [Cache, Cache, Cache]
    await warm([a, b, c], 'k', 'old')
    await a.delete('k')
    await settle()
    expect(await b.get('k')).toBeUndefined()
    expect(await c.get('k')).toBeUndefined()
    expect(await b.wrap('k', () => 'new')).toBe('new')
  })

  it('set (an overwrite) makes the others read the new value from the shared layer', async () => {
    const { instances } = cluster(2)
    const [a, b] = instances.map((i) => i.cache) as [Cache, Cache]
    await warm([a, b], 'k', 'old')
    await a.set('k', 'new')
    expect(await a.get('k')).toBe('new') // its own message does not drop its own value
    await settle()
    expect(await b.get('k')).toBe('new')
  })

  it('invalidateTags and invalidatePrefix, with the versions carried (no tag store round trip)', async () => {
    const { instances } = cluster(2)
    const [a, b] = instances.map((i) => i.cache) as [Cache, Cache]
    // b trusts the versions it read for an hour (tagTrust): only the message can tell it.
    await warm([a, b], 'user:1:profile', 'p1', ['user:1'])
    await warm([a, b], 'report:7:summary', 's1')
    await a.invalidateTags(['user:1'])
    await a.invalidatePrefix('report:7')
    await settle()
    expect(await b.get('user:1:profile')).toBeUndefined()
    expect(await b.get('report:7:summary')).toBeUndefined()
  })

  it('clear', async () => {
    const { instances, remote } = cluster(2)
    const [a, b] = instances.map((i) => i.cache) as [Cache, Cache]
    await warm([a, b], 'k', 'old')
    await a.clear()
    expect(remote.size).toBe(0)
    await settle()
    expect(await b.get('k')).toBeUndefined()
  })

  it('memory-only instances (tag state per instance) apply a tag move themselves', async () => {
    const { instances } = cluster(2, { shared: false })
    const [a, b] = instances.map((i) => i.cache) as [Cache, Cache]
    await warm([a, b], 'k', 'old', ['t'])
    await a.invalidateTags(['t'], { mode: 'stale' })
    await settle()
    // b moved 't' in its own tag state, in the mode given: served stale while it refreshes.
    const log: string[] = []
    b.on('stale', (event) => log.push(event.reason))
    expect(await b.wrap('k', () => 'new', { tags: ['t'] })).toBe('old')
    expect(log).toEqual(['invalidated'])
    await settle()
    expect(await b.get('k')).toBe('new')
  })

  it('without the bus, the other instance would keep serving its old value', async () => {
    // The control: same set-up, b's bus cut off for good, and its trust cap far away.
    const clock = manualClock()
    const { instances } = cluster(2, { clock, busTrust: 3_600_000 })
    const [a, b] = instances.map((i) => i.cache) as [Cache, Cache]
    await settle()
    await warm([a, b], 'k', 'old')
    instances[1]!.bus.disconnect()
    await a.delete('k')
    await settle()
    expect(await b.get('k')).toBe('old')
  })
})

describe('bus: acknowledged changes', () => {
  it('resolve once every other instance applied them: no instance serves the old value after', async () => {
    const { instances } = cluster(3)
    const [a, b, c] = instances.map((i) => i.cache) as [Cache, Cache, Cache]
    await warm([a, b, c], 'k', 'old', ['t'])
    await a.invalidateTags(['t'], { acknowledge: true })
    // No settle(): the acknowledgement is the guarantee.
    expect(await b.get('k')).toBeUndefined()
    expect(await c.get('k')).toBeUndefined()
    await warm([a, b, c], 'k2', 'old')
    await a.delete('k2', { acknowledge: { timeout: '1s' } })
    expect(await b.get('k2')).toBeUndefined()
    expect(await c.get('k2')).toBeUndefined()
  })

  it('reject with E_TIMEOUT naming how many instances did not answer', async () => {
    const clock = manualClock()
    const { instances } = cluster(3, { clock })
    await settle()
    const [a] = instances.map((i) => i.cache) as [Cache]
    ;(instances[2]!.bus as MemoryBus).answersAcks = false
    const call = a.clear({ acknowledge: { timeout: '500ms' } })
    const outcome = call.then(
      () => undefined,
      (error: unknown) => error,
    )
    await settle()
    clock.advance(500)
    const error = (await outcome) as CacheError
    expect(error).toBeInstanceOf(CacheError)
    expect(error.code).toBe('E_TIMEOUT')
    expect(error.message).toContain('1 of 2 other instances did not acknowledge it within 500ms')
  })

  it('without other instances or without a bus, resolve at once', async () => {
    const alone = createCache({ bus: memoryBusHub().bus() })
    const plain = createCache()
    caches.push(alone, plain)
    await alone.invalidateTags(['t'], { acknowledge: true })
    await plain.invalidateTags(['t'], { acknowledge: true })
  })

  it('refuse a bad acknowledge option before changing anything', async () => {
    const { instances } = cluster(1)
    const a = instances[0]!.cache
    await a.set('k', 'v')
    for (const acknowledge of ['yes', 1, { timeout: 'soon' }, { wait: 1 }]) {
      const error = await a.delete('k', { acknowledge } as never).then(
        () => undefined,
        (e: unknown) => e as CacheError,
      )
      expect(error?.code).toBe('E_INVALID_OPTION')
      expect(error?.message).toContain('deleteMany options.acknowledge')
    }
    expect(await a.get('k')).toBe('v')
  })
})

describe('bus: recovery', () => {
  it('an instance whose bus dropped never serves what was invalidated meanwhile, once back', async () => {
    const clock = manualClock()
    const { instances } = cluster(2, { clock, busTrust: 60_000 })
    await settle()
    const [a, b] = instances.map((i) => i.cache) as [Cache, Cache]
    await warm([a, b], 'k', 'old', ['t'])
    instances[1]!.bus.disconnect()
    await a.invalidateTags(['t'])
    await settle()
    instances[1]!.bus.reconnect()
    await settle()
    expect(await b.get('k')).toBeUndefined()
    expect(await b.wrap('k', () => 'new', { tags: ['t'] })).toBe('new')
  })

  it('while the bus is down, local layers are trusted for busTrust only', async () => {
    const clock = manualClock()
    const { instances } = cluster(2, { clock, busTrust: 5_000 })
    await settle()
    const [a, b] = instances.map((i) => i.cache) as [Cache, Cache]
    await warm([a, b], 'k', 'old')
    instances[1]!.bus.disconnect()
    await a.set('k', 'new') // b misses the message
    await settle()
    clock.advance(4_999)
    expect(await b.get('k')).toBe('old') // within the trust cap
    clock.advance(1)
    await settle()
    expect(await b.get('k')).toBe('new') // its memory layer was dropped: read from the shared layer
    // A value written to memory while the bus is down lives busTrust at most there.
    await b.set('fresh', 'x')
    const memory = b.layerNames.indexOf('memory')
    expect(memory).toBe(0)
    clock.advance(5_001)
    const remoteRead: string[] = []
    b.on('hit', (event) => remoteRead.push(event.layer))
    expect(await b.get('fresh')).toBe('x')
    expect(remoteRead).toEqual(['remote'])
  })

  it('receives nothing after close', async () => {
    const { instances } = cluster(2)
    const [a, b] = instances.map((i) => i.cache) as [Cache, Cache]
    await warm([a, b], 'k', 'v')
    await b.close()
    await a.delete('k')
    await settle()
    expect(instances[1]!.bus.connected).toBe(false)
  })
})

describe('bus: options', () => {
  it('refuses a bus that is not one, and a bad busTrust', () => {
    for (const bus of [1, 'redis', {}, { bind() {} }]) {
      expect(() => createCache({ bus: bus as never })).toThrowError(/bus/)
    }
    expect(() => createCache({ busTrust: 'soon' })).toThrowError(/busTrust/)
  })

  it('works beside a layer that has no memory semantics (a custom shared layer only)', async () => {
    const hub = memoryBusHub()
    const shared = new Map()
    const a = createCache({ layers: [new MapLayer('remote', shared)], bus: hub.bus() })
    const b = createCache({ layers: [new MapLayer('remote', shared)], bus: hub.bus() })
    caches.push(a, b)
    await a.set('k', 'v')
    await settle()
    expect(await b.get('k')).toBe('v') // nothing local to drop; the shared layer answers
  })
})
