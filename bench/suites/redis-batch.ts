import {
  bentocacheRedis,
  cacheableRedis,
  cacheManagerRedis,
  fillAll,
  layercacheRedis,
  type Product,
  productOf,
  rawRedis,
} from '../lib/redis.js'
import { type Contender, makeKeys, type Scenario, type Subject } from '../lib/suite.js'

// 1,600 pre-warmed keys per contender, read as 16 fixed batches of 100, cycling: every call
// reads 100 keys that are all in Redis. Rounds are short (100 calls) as each call is ~1 ms.
const BATCH = 100
const BATCHES = 16
const MASK = BATCHES - 1

/** Warms the keys through `fill`; the check asserts a batch comes back whole and in order. */
async function batchSubject(
  prefix: string,
  fill: (key: string, product: Product) => Promise<unknown>,
  read: (keys: string[]) => Promise<readonly unknown[]>,
  close: () => Promise<unknown> | unknown,
): Promise<Subject> {
  const keys = makeKeys(`${prefix}:product`, BATCH * BATCHES)
  await fillAll(keys, (key, i) => fill(key, productOf(i)))
  const batches = Array.from({ length: BATCHES }, (_, b) => keys.slice(b * BATCH, (b + 1) * BATCH))
  return {
    op: (n) => read(batches[n & MASK]!),
    async check() {
      const found = (await read(batches[3]!)) as (Product | undefined)[]
      const wrong = found.findIndex((product, i) => product?.id !== 3 * BATCH + i)
      if (found.length !== BATCH || wrong !== -1)
        return `batch 3 came back with ${found.length} values, first wrong at ${wrong}`
      return undefined
    },
    close,
  }
}

const contenders: Contender[] = [
  {
    name: 'raw MGET + decode',
    async setup() {
      const raw = await rawRedis()
      return batchSubject(
        'raw',
        (key, product) => raw.set(key, product),
        (keys) => raw.getMany(keys),
        () => raw.close(),
      )
    },
  },
  {
    name: 'layercache getMany',
    async setup() {
      const { cache } = await layercacheRedis('many')
      return batchSubject(
        'lc',
        (key, product) => cache.set(key, product),
        (keys) => cache.getMany(keys),
        () => cache.close(),
      )
    },
  },
  {
    name: 'cache-manager mget',
    async setup() {
      const { cache } = await cacheManagerRedis()
      return batchSubject(
        'cm',
        (key, product) => cache.set(key, product),
        (keys) => cache.mget(keys),
        () => cache.disconnect(),
      )
    },
  },
  {
    name: 'cacheable getMany',
    async setup() {
      const { cache } = await cacheableRedis()
      return batchSubject(
        'cacheable',
        (key, product) => cache.set(key, product),
        (keys) => cache.getMany(keys),
        () => cache.disconnect(),
      )
    },
  },
  {
    // bentocache has no batch read: 100 concurrent `get`s, which ioredis pipelines.
    name: 'bentocache 100 x get (no batch API)',
    async setup() {
      const bento = await bentocacheRedis()
      return batchSubject(
        'bento',
        (key, product) => bento.set({ key, value: product }),
        (keys) => Promise.all(keys.map((key) => bento.get({ key }))),
        () => bento.disconnectAll(),
      )
    },
  },
]

/** Batch reads of 100 keys that are all in Redis, against a raw MGET + decode. */
export function redisGetMany(): Scenario {
  return {
    id: 'redis-get-many',
    title: 'Awaited batch read of 100 keys, all in Redis (Redis-only caches)',
    baseline: 'raw MGET + decode',
    options: { iterations: 100, rounds: 11, roundMs: 100 },
    contenders,
    interleave: true,
    showCpu: true,
  }
}
