import KeyvRedis from '@keyv/redis'
import { BentoCache, bentostore } from 'bentocache'
import { memoryDriver } from 'bentocache/drivers/memory'
import { redisDriver } from 'bentocache/drivers/redis'
import { createCache as createCacheManager } from 'cache-manager'
import { Cacheable, createKeyv } from 'cacheable'
import { Redis } from 'ioredis'
import { Keyv } from 'keyv'
import { createCache, memoryLayer, type PolicyOptions } from 'layercache'
import { redisLayer } from 'layercache/redis'
import { MAX_ENTRIES, TTL_MS } from './anchors.js'

// The stampede scenarios: many concurrent get-or-set calls of one cold key, with a slow
// factory, in one process or in two processes sharing one Redis. Shared by the suite (one
// process) and by the worker script (stampede-worker.ts, one per child process), so every
// contender is built here from a Redis URL alone (the child processes do not own the run's
// redis-server). The configurations are those of lib/redis.ts (memory + Redis).

/** How long the factory takes: a slow query. */
export const FACTORY_MS = 50

/** One get-or-set cache, connected to the run's Redis. */
export interface StampedeSubject {
  wrap(key: string, factory: () => Promise<unknown>): Promise<unknown>
  close(): Promise<unknown>
}

export interface StampedeContender {
  name: string
  /** How the library keeps concurrent misses from all running the factory, for the report. */
  lock: string
  setup(url: string): Promise<StampedeSubject>
}

/** layercache's Redis timeout, as in every Redis scenario (see lib/redis.ts). */
const REDIS_TIMEOUT = '100ms'

/**
 * layercache with a memory layer over Redis. `lock` goes into the default policy (the core
 * rejects options it does not know with E_INVALID_OPTION, at createCache).
 */
async function layercache(url: string, lock?: 'local' | 'distributed'): Promise<StampedeSubject> {
  const layer = redisLayer({ url, timeout: REDIS_TIMEOUT })
  // A policy field this build may not know yet: asserted, not checked against its types.
  const policy = (lock ? { ttl: TTL_MS, lock } : { ttl: TTL_MS }) as PolicyOptions
  // Created before connecting, so a rejected option leaves no client open.
  const cache = createCache({
    namespace: 'stampede',
    layers: [memoryLayer({ maxEntries: MAX_ENTRIES }), layer],
    policies: { default: policy },
  })
  await layer.connect()
  return {
    wrap: (key, factory) => cache.wrap(key, factory),
    close: () => cache.close(),
  }
}

export const stampedeContenders: StampedeContender[] = [
  {
    name: 'layercache wrap',
    lock: "its default (lock: 'local'): single flight per key in each process",
    setup: (url) => layercache(url),
  },
  {
    name: "layercache wrap, lock: 'distributed'",
    lock: 'a Redis lease per key (lockLease 10s, the default): one process computes, the others wait and read Redis',
    setup: (url) => layercache(url, 'distributed'),
  },
  {
    name: 'bentocache getOrSet (L1 + L2)',
    lock: 'its default: an in-process mutex per key (async-mutex), no lockTimeout; no bus',
    async setup(url) {
      const { hostname, port } = new URL(url)
      const connection = new Redis({ host: hostname, port: Number(port) })
      connection.on('error', () => {})
      const store = bentostore()
        .useL1Layer(memoryDriver({ maxItems: MAX_ENTRIES }))
        .useL2Layer(redisDriver({ connection }))
      const bento = new BentoCache({ default: 'cache', ttl: TTL_MS, stores: { cache: store } })
      return {
        wrap: (key, factory) => bento.getOrSet({ key, factory }),
        close: () => bento.disconnectAll(),
      }
    },
  },
  {
    name: 'cache-manager wrap (memory + redis stores)',
    lock: 'its default: wrap coalesces concurrent calls of a key in the process (coalesceAsync)',
    async setup(url) {
      const store = new KeyvRedis(url)
      const cache = createCacheManager({
        stores: [createKeyv({ ttl: TTL_MS, lruSize: MAX_ENTRIES }), new Keyv({ store })],
        ttl: TTL_MS,
      })
      return {
        wrap: (key, factory) => cache.wrap(key, factory),
        close: () => cache.disconnect(),
      }
    },
  },
  {
    name: 'cacheable getOrSet (memory primary + redis secondary)',
    lock: 'its default: getOrSet coalesces concurrent misses of a key in the process (coalesceAsync)',
    async setup(url) {
      const cache = new Cacheable({
        primary: createKeyv({ lruSize: MAX_ENTRIES }),
        secondary: new Keyv({ store: new KeyvRedis(url) }),
        ttl: TTL_MS,
      })
      return {
        wrap: (key, factory) => cache.getOrSet(key, factory),
        close: () => cache.disconnect(),
      }
    },
  },
]

/** What one process's burst of calls on one key came to. */
export interface Burst {
  /** Factory runs in this process. */
  runs: number
  /** Calls that threw, and the first message. */
  errors: number
  firstError?: string
  /** Calls that resolved to something other than the factory's value. */
  wrong: number
  /** When the first call was made and when the last one settled (ms since the epoch, sub-ms). */
  startedAt: number
  settledAt: number
}

/** A clock shared by the processes of one machine: ms since the epoch, with sub-ms precision. */
export const epochMs = (): number => performance.timeOrigin + performance.now()

/**
 * Fires `calls` concurrent get-or-set calls of `key` at once (in one synchronous loop), with a
 * factory that counts its runs and takes FACTORY_MS, and waits for all of them to settle.
 */
export async function burst(subject: StampedeSubject, key: string, calls: number): Promise<Burst> {
  const value = { key, payload: 'x'.repeat(200) }
  let runs = 0
  const factory = async () => {
    runs++
    await new Promise((resolve) => setTimeout(resolve, FACTORY_MS))
    return value
  }
  let errors = 0
  let wrong = 0
  let firstError: string | undefined
  const startedAt = epochMs()
  const pending: Promise<void>[] = []
  for (let i = 0; i < calls; i++) {
    pending.push(
      subject.wrap(key, factory).then(
        (got) => {
          if ((got as { key?: unknown } | undefined)?.key !== key) wrong++
        },
        (error: unknown) => {
          errors++
          firstError ??= error instanceof Error ? error.message : String(error)
        },
      ),
    )
  }
  await Promise.all(pending)
  const result: Burst = { runs, errors, wrong, startedAt, settledAt: epochMs() }
  if (firstError !== undefined) result.firstError = firstError
  return result
}

/** Sleeps until the shared clock reads `at` (a timer, then a spin for the last 2 ms). */
export async function waitUntil(at: number): Promise<void> {
  const ahead = at - epochMs() - 2
  if (ahead > 0) await new Promise((resolve) => setTimeout(resolve, ahead))
  while (epochMs() < at) {
    // spin: a timer alone wakes up to a millisecond late, and not alike in both processes
  }
}

/** Messages from the suite to a worker process. */
export type ToWorker =
  | { type: 'setup'; contender: string; url: string }
  | { type: 'burst'; key: string; calls: number; at: number }
  | { type: 'close' }

/** Messages from a worker process to the suite. */
export type FromWorker =
  | { type: 'ready' }
  | { type: 'failed'; message: string }
  | { type: 'burst'; burst: Burst }
  | { type: 'closed' }
