import KeyvRedis, { createClient } from '@keyv/redis'
import { BentoCache, bentostore } from 'bentocache'
import { memoryDriver } from 'bentocache/drivers/memory'
import { redisDriver } from 'bentocache/drivers/redis'
import { createCache as createCacheManager } from 'cache-manager'
import { Cacheable, createKeyv } from 'cacheable'
import { Redis } from 'ioredis'
import { Keyv } from 'keyv'
import { type Cache, createCache, type Entry, memoryLayer } from 'layercache'
import { Codec, type RedisClient, type RedisLayer, redisLayer } from 'layercache/redis'
import { type RedisServer, startRedis } from '../../test/helpers/redis-server.js'
import { MAX_ENTRIES, TTL_MS } from './anchors.js'

// One private redis-server (a free loopback port, never the system's 6379) for every Redis
// scenario of the run: started by the first one that needs it, stopped by run.ts at the end.

let server: Promise<RedisServer> | undefined

/** The run's redis-server, started on first use. */
export function redisServer(): Promise<RedisServer> {
  server ??= startRedis({ control: true })
  return server
}

/** Stops the run's redis-server (resuming it first if frozen); a no-op when none was started. */
export async function stopRedisServer(): Promise<void> {
  const started = server
  server = undefined
  await (await started?.catch(() => undefined))?.stop()
}

/**
 * The value every Redis scenario stores: a product record of 20 fields (strings, numbers,
 * booleans, a small array and three Dates): 433 bytes in layercache's msgpack envelope, about
 * 560 as JSON in Keyv's envelope.
 */
export function productOf(i: number) {
  const day = 86_400_000
  const base = Date.UTC(2026, 0, 1)
  return {
    id: i,
    sku: `SKU-${String(i).padStart(6, '0')}`,
    name: `Insulated steel bottle, model ${i}`,
    description: 'Double-walled, keeps drinks cold for 24 hours and hot for 12. Dishwasher safe.',
    brand: 'Acme Outdoor',
    category: 'sports/hydration',
    price: 24.9 + (i % 50),
    currency: 'EUR',
    stock: (i * 37) % 500,
    rating: 4.2 + (i % 8) / 10,
    reviewCount: (i * 13) % 2_000,
    weightGrams: 350 + (i % 100),
    active: i % 7 !== 0,
    featured: i % 11 === 0,
    tags: ['new', 'bestseller', 'eco'],
    warehouse: 'FRA-1',
    vendorId: 1_000 + (i % 97),
    createdAt: new Date(base - (i % 365) * day),
    updatedAt: new Date(base + (i % 30) * day),
    availableFrom: new Date(base + 7 * day),
  }
}

export type Product = ReturnType<typeof productOf>

/** The node-redis calls the raw baseline makes, with bulk strings read as Buffers. */
interface BinaryClient {
  get(key: string): Promise<Buffer | null>
  mGet(keys: string[]): Promise<(Buffer | null)[]>
  set(key: string, value: Buffer, options: { PX: number }): Promise<unknown>
}

/**
 * The baseline: a plain node-redis client (the same client family layercache uses), storing
 * layercache's envelope with its `Codec`, with no cache logic around it.
 */
export async function rawRedis() {
  const { url } = await redisServer()
  const client = createClient({ url }) as unknown as RedisClient
  client.on('error', () => {})
  await client.connect()
  const binary = client.withTypeMapping({ 36: Buffer }) as unknown as BinaryClient
  const codec = new Codec()
  return {
    binary,
    /** GET and decode; the value, or undefined. */
    async get(key: string): Promise<unknown> {
      const bytes = await binary.get(key)
      return bytes === null ? undefined : codec.decode(bytes, key, 'raw').value
    },
    /** MGET and decode. */
    async getMany(keys: string[]): Promise<unknown[]> {
      const found = await binary.mGet(keys)
      return found.map((bytes, i) =>
        bytes === null ? undefined : codec.decode(bytes, keys[i]!, 'raw').value,
      )
    },
    /** Encode the envelope (read the clock, as a cache must) and SET it with PX. */
    set(key: string, value: unknown): Promise<unknown> {
      const now = Date.now()
      const entry: Entry = {
        value,
        createdAt: now,
        freshUntil: now + TTL_MS,
        staleUntil: now + TTL_MS,
      }
      const bytes = codec.encode(entry, key)
      return binary.set(key, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), {
        PX: TTL_MS,
      })
    },
    close: () => client.destroy(),
  }
}

/** layercache's Redis timeout in every Redis scenario (also its default). */
export const REDIS_TIMEOUT_MS = 100

/**
 * layercache over the run's Redis: Redis only (every read is an L2 read), or a memory layer
 * over Redis. The breaker keeps its defaults (opens after 5 consecutive failures, probes
 * again after 5 s).
 */
export async function layercacheRedis(
  namespace: string,
  withMemory = false,
): Promise<{ cache: Cache; layer: RedisLayer }> {
  const { url } = await redisServer()
  const layer = redisLayer({ url, timeout: `${REDIS_TIMEOUT_MS}ms` })
  await layer.connect()
  const cache = createCache({
    namespace,
    layers: withMemory ? [memoryLayer({ maxEntries: MAX_ENTRIES }), layer] : [layer],
    policies: { default: { ttl: TTL_MS } },
  })
  return { cache, layer }
}

/**
 * bentocache with its ioredis driver as L2: alone, or under a memory L1. No bus. The driver
 * gets an ioredis client with default options, made here only to listen to its 'error' events
 * (bentocache adds no listener, so ioredis would log every failed reconnection to stderr);
 * `disconnectAll()` closes it, as it closes one the driver makes.
 */
export async function bentocacheRedis(withMemory = false) {
  const { host, port } = await redisServer()
  const connection = new Redis({ host, port })
  connection.on('error', () => {})
  const store = bentostore()
  if (withMemory) store.useL1Layer(memoryDriver({ maxItems: MAX_ENTRIES }))
  store.useL2Layer(redisDriver({ connection }))
  return new BentoCache({ default: 'cache', ttl: TTL_MS, stores: { cache: store } })
}

/** A Keyv over @keyv/redis with its defaults, as cache-manager's and cacheable's docs show. */
export async function keyvRedis() {
  const { url } = await redisServer()
  const store = new KeyvRedis(url)
  return { store, keyv: new Keyv({ store }) }
}

/**
 * Closes a @keyv/redis store's client at once, rejecting what it still waits for, and keeps
 * it closed: a call abandoned while Redis was down goes on once its command fails and would
 * otherwise reopen the client (its `getClient()` reconnects a closed client), which then
 * retries forever and keeps the process alive.
 */
export function dropKeyvRedis(store: KeyvRedis<unknown>): void {
  store.getClient = () => Promise.reject(new Error('closed by the benchmark'))
  if (store.client.isOpen) store.client.destroy()
}

/** cache-manager 7 over a Keyv on @keyv/redis: alone, or under its in-memory Keyv store. */
export async function cacheManagerRedis(withMemory = false) {
  const { store, keyv } = await keyvRedis()
  const stores = withMemory ? [createKeyv({ ttl: TTL_MS, lruSize: MAX_ENTRIES }), keyv] : [keyv]
  return { cache: createCacheManager({ stores, ttl: TTL_MS }), store }
}

/**
 * cacheable 2 over a Keyv on @keyv/redis. Cacheable always has a primary store (an in-memory
 * one when none is given), so "Redis only" means the Redis Keyv as its primary; with memory,
 * its LRU-bounded in-memory primary and the Redis Keyv as secondary.
 */
export async function cacheableRedis(withMemory = false) {
  const { store, keyv } = await keyvRedis()
  const cache = withMemory
    ? new Cacheable({
        primary: createKeyv({ lruSize: MAX_ENTRIES }),
        secondary: keyv,
        ttl: TTL_MS,
      })
    : new Cacheable({ primary: keyv, ttl: TTL_MS })
  return { cache, store }
}

/** Runs `write` over `keys` with up to 64 writes in flight (to warm a store quickly). */
export async function fillAll(
  keys: readonly string[],
  write: (key: string, i: number) => Promise<unknown>,
): Promise<void> {
  for (let start = 0; start < keys.length; start += 64) {
    await Promise.all(keys.slice(start, start + 64).map((key, j) => write(key, start + j)))
  }
}
