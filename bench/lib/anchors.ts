import { BentoCache, bentostore } from 'bentocache'
import { memoryDriver } from 'bentocache/drivers/memory'
import { createCache as createCacheManager } from 'cache-manager'
import { Cacheable, createKeyv } from 'cacheable'
import { type Cache, createCache, memoryLayer, type PolicyOptions } from 'layercache'

// Every cache gets the same bounds: 10,000 entries and a 5 minute TTL, long enough that
// nothing expires during a run. Everything else is each library's default, as users get it.

/** Entry bound of every bounded contender. */
export const MAX_ENTRIES = 10_000
/** TTL of every contender that has one. */
export const TTL_MS = 5 * 60_000

/** layercache with one memory layer (the source in src/, not a build). */
export function layercache(policies?: Record<string, PolicyOptions>): Cache {
  return createCache({
    layers: [memoryLayer({ maxEntries: MAX_ENTRIES })],
    policies: { default: { ttl: TTL_MS }, ...policies },
  })
}

/**
 * bentocache with a memory L1 only: no L2, no bus. `serialize` defaults to true in bentocache
 * (values are stored as JSON strings); `false` keeps live objects, like layercache does.
 */
export function bentocache(options: { serialize?: boolean } = {}) {
  return new BentoCache({
    default: 'memory',
    ttl: TTL_MS,
    stores: {
      memory: bentostore().useL1Layer(memoryDriver({ maxItems: MAX_ENTRIES, ...options })),
    },
  })
}

/** cache-manager 7 over keyv with cacheable's in-memory store, as its README suggests. */
export function cacheManager() {
  return createCacheManager({
    stores: [createKeyv({ ttl: TTL_MS, lruSize: MAX_ENTRIES })],
    ttl: TTL_MS,
  })
}

/**
 * cacheable 2 with its in-memory primary store, LRU-bounded. `useClone` defaults to true in
 * cacheable (every read returns a copy); `false` returns the stored object.
 */
export function cacheable(options: { useClone?: boolean } = {}): Cacheable {
  return new Cacheable({ primary: createKeyv({ lruSize: MAX_ENTRIES, ...options }), ttl: TTL_MS })
}
