import { BentoCache, bentostore } from 'bentocache'
import { memoryDriver } from 'bentocache/drivers/memory'
import { redisBusDriver, redisDriver } from 'bentocache/drivers/redis'
import { Redis } from 'ioredis'
import { type Cache, createCache, memoryLayer } from 'layercache'
import { type RedisBus, redisBus, redisLayer } from 'layercache/redis'
import { MAX_ENTRIES, TTL_MS } from './anchors.js'
import { epochMs } from './stampede.js'

// The bus scenarios: caches with a memory layer over Redis and an invalidation bus, built from
// a Redis URL alone, so that the worker processes (bus-worker.ts, one per instance) and the
// suite (suites/bus.ts) build them alike. The configurations are those of lib/redis.ts
// (memory + Redis), plus the bus each library documents.

/** layercache's Redis timeout, as in every Redis scenario (see lib/redis.ts). */
const REDIS_TIMEOUT = '100ms'
/** How long a bus may take to report itself connected before setup fails. */
const CONNECT_MS = 5_000

/** Waits until `ready()` holds (polled every ms), or throws after `ms`. */
export async function until(ready: () => boolean, what: string, ms = CONNECT_MS): Promise<void> {
  const deadline = Date.now() + ms
  while (!ready()) {
    if (Date.now() > deadline) throw new Error(`${what} not ready within ${ms} ms`)
    await new Promise((resolve) => setTimeout(resolve, 1))
  }
}

/**
 * layercache with a memory layer over Redis, as in lib/redis.ts, and with `bus` a
 * `redisBus({ url })` at its defaults; resolves once the bus reports itself connected (until
 * then a cache trusts its memory layer only for `busTrust`, and drops it when the bus comes up).
 */
export async function layercacheBus(
  url: string,
  namespace: string,
  withBus: boolean,
): Promise<{ cache: Cache; bus: RedisBus | undefined }> {
  const layer = redisLayer({ url, timeout: REDIS_TIMEOUT })
  await layer.connect()
  const bus = withBus ? redisBus({ url }) : undefined
  const cache = createCache({
    namespace,
    layers: [memoryLayer({ maxEntries: MAX_ENTRIES }), layer],
    policies: { default: { ttl: TTL_MS } },
    ...(bus ? { bus } : {}),
  })
  if (bus) {
    try {
      await until(() => bus.connected, 'layercache redisBus')
    } catch (error) {
      await cache.close()
      throw error
    }
  }
  return { cache, bus }
}

/** The channel bentocache's bus uses for a store named `cache` (its `Bus` class). */
export const BENTO_CHANNEL = 'bentocache.notifications:cache'

/**
 * bentocache with a memory L1 over its ioredis L2, as in lib/redis.ts, and with `bus` the
 * Redis bus its multi-tier docs show: `.useBus(redisBusDriver({ connection }))`, given
 * connection options (it opens a publisher and a subscriber connection of its own). It has no
 * "connected" signal: the latency probe warms up before it records anything.
 */
export function bentocacheBus(url: string, withBus: boolean) {
  const { hostname, port } = new URL(url)
  const host = hostname
  const connection = new Redis({ host, port: Number(port) })
  connection.on('error', () => {})
  const store = bentostore()
    .useL1Layer(memoryDriver({ maxItems: MAX_ENTRIES }))
    .useL2Layer(redisDriver({ connection }))
  if (withBus) store.useBus(redisBusDriver({ connection: { host, port: Number(port) } }))
  return new BentoCache({ default: 'cache', ttl: TTL_MS, stores: { cache: store } })
}

// --- the latency probe ------------------------------------------------------------------------

/** How an instance removes a value: one key, or the tag it was written with. */
export type Removal = 'delete' | 'invalidateTags'

/** One instance of a library in the latency probe. */
export interface BusSubject {
  set(key: string, value: Marked, tag: string): Promise<unknown>
  get(key: string): Promise<unknown>
  remove(how: Removal, key: string, tag: string, acknowledge: boolean): Promise<unknown>
  close(): Promise<unknown>
}

export type BusLibrary = 'layercache' | 'bentocache'

/** The value of round `round`: the readers tell it from any other by its `round`. */
export interface Marked {
  round: number
  payload: string
}

export const markedValue = (round: number): Marked => ({ round, payload: 'x'.repeat(200) })

/** Whether `value` is round `round`'s value (the one being invalidated). */
export const isRound = (value: unknown, round: number): boolean =>
  (value as Partial<Marked> | undefined)?.round === round

/** One instance of `library`, with its bus, on the run's Redis. */
export async function busSubject(
  library: BusLibrary,
  url: string,
  namespace: string,
): Promise<BusSubject> {
  if (library === 'layercache') {
    const { cache } = await layercacheBus(url, namespace, true)
    return {
      set: (key, value, tag) => cache.set(key, value, { tags: [tag] }),
      get: (key) => cache.get(key),
      remove: (how, key, tag, acknowledge) => {
        const options = acknowledge ? { acknowledge: true } : undefined
        return how === 'delete' ? cache.delete(key, options) : cache.invalidateTags([tag], options)
      },
      close: () => cache.close(),
    }
  }
  const bento = bentocacheBus(url, true)
  return {
    set: (key, value) => bento.set({ key, value }),
    get: (key) => bento.get({ key }),
    remove: (how, key, _tag, acknowledge) => {
      if (how !== 'delete' || acknowledge)
        throw new Error('bentocache: only delete, without acknowledgement')
      return bento.delete({ key })
    },
    close: () => bento.disconnectAll(),
  }
}

/** What a reader saw while it read a key in a tight loop, waiting for its value to go. */
export interface Watch {
  /** Shared-clock time (ms) when the read that no longer returned the value resolved. */
  seenAt?: number
  /** When that read started: the invalidation had been applied here by then. */
  missStartedAt?: number
  /** Reads made, the last included. */
  reads: number
}

/**
 * Reads `key` until it no longer returns round `round`'s value, one read per event-loop turn
 * (setImmediate between reads, so that the bus's socket is read between them), for at most
 * `limitMs`. The first read must still return the value (else the instance was not warm).
 */
export async function watch(
  subject: BusSubject,
  key: string,
  round: number,
  limitMs: number,
): Promise<{ armed: boolean; done: Promise<Watch> }> {
  if (!isRound(await subject.get(key), round))
    return { armed: false, done: Promise.resolve({ reads: 1 }) }
  const done = (async (): Promise<Watch> => {
    const deadline = epochMs() + limitMs
    let reads = 1
    for (;;) {
      await new Promise((resolve) => setImmediate(resolve))
      const started = epochMs()
      const got = await subject.get(key)
      reads++
      if (!isRound(got, round)) return { seenAt: epochMs(), missStartedAt: started, reads }
      if (started > deadline) return { reads }
    }
  })()
  return { armed: true, done }
}

/** Messages from the suite to a worker process. */
export type ToBusWorker =
  | { type: 'setup'; library: BusLibrary; url: string; namespace: string }
  | { type: 'clock' }
  | { type: 'set'; key: string; round: number; tag: string }
  /** Read until the key returns round `round`'s value (from Redis, then from memory). */
  | { type: 'warm'; key: string; round: number }
  /** Start reading in a tight loop; answered `armed` at once. */
  | { type: 'watch'; key: string; round: number; limitMs: number }
  /** Answered `seen` once the loop started by `watch` ended. */
  | { type: 'collect' }
  | { type: 'remove'; how: Removal; key: string; tag: string; acknowledge: boolean }
  /** One read: does it still return round `round`'s value? */
  | { type: 'check'; key: string; round: number }
  | { type: 'close' }

/** Messages from a worker process to the suite, one per request, in order. */
export type FromBusWorker =
  | { type: 'ready' }
  | { type: 'failed'; message: string }
  | { type: 'clock'; at: number }
  | { type: 'done' }
  | { type: 'warmed'; ok: boolean }
  | { type: 'armed'; ok: boolean }
  | { type: 'seen'; watch: Watch }
  | { type: 'removed'; sentAt: number; returnedAt: number; error?: string }
  | { type: 'checked'; old: boolean }
  | { type: 'closed' }
