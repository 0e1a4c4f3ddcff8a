import { type Cache, createCache, memoryLayer } from 'layercache'
import { redisLayer } from 'layercache/redis'
import { commandCalls, resetCommandStats } from '../../test/helpers/redis-stats.js'
import { MAX_ENTRIES, TTL_MS } from '../lib/anchors.js'
import { type MeasureOptions, totalCalls } from '../lib/measure.js'
import { fillAll, type Product, productOf, REDIS_TIMEOUT_MS, redisServer } from '../lib/redis.js'
import type { Contender, Scenario, Subject, Suite } from '../lib/suite.js'

// `wrapMany` of 100 keys against 100 awaited `wrap` calls, memory over Redis, in two cases:
// every key is in Redis but not in memory (a cold instance), and no layer has any key (every
// key goes to the loader, then to both layers). 100 concurrent `wrap` calls (`Promise.all`)
// and, for the first case, `getMany` (the floor: the same reads, no loader to join) are
// printed beside them. No anchor has a batch get-or-set: cache-manager has `mget`/`mset` and
// cacheable `getMany`/`setMany`, but loading the missing keys is left to the caller, and
// bentocache has no batch call at all, so none is timed here.

const BATCH = 100
/** 16 fixed batches over 1,600 keys, cycling (the L2 case). */
const BATCHES = 16
const MASK = BATCHES - 1

/** The values: built once, so what is timed is caching, not building objects. */
const products: readonly Product[] = Array.from({ length: BATCH }, (_, i) => productOf(i))

/** Answers a batch's missing keys in order. */
type Loader = (missing: string[]) => Promise<Product[]>

/** Key i of every batch (`<prefix>:<batch>:<i>`) holds product i. */
function productFor(key: string): Product {
  return products[Number(key.slice(key.lastIndexOf(':') + 1))]!
}

/** How a contender reads one batch: through `wrapMany`, `wrap` calls or `getMany`. */
type Read = (cache: Cache, keys: readonly string[], load: Loader) => Promise<unknown>

const READS: { name: string; read: Read }[] = [
  {
    name: 'layercache wrapMany',
    read: (cache, keys, load) => cache.wrapMany(keys, load),
  },
  {
    name: '100 awaited wrap',
    async read(cache, keys, load) {
      const out: unknown[] = []
      for (let i = 0; i < keys.length; i++)
        out.push(await cache.wrap(keys[i]!, async () => (await load([keys[i]!]))[0]))
      return out
    },
  },
  {
    name: '100 concurrent wrap (Promise.all)',
    read: (cache, keys, load) =>
      Promise.all(keys.map((key) => cache.wrap(key, async () => (await load([key]))[0]))),
  },
]

/** The baseline of both scenarios: every ratio is time relative to one `wrapMany`. */
const BASELINE = 'layercache wrapMany'

/**
 * Memory over the run's Redis. `coldMemory`: the memory layer keeps nothing (a per-layer TTL
 * of 0), so every read misses it and is answered by Redis, and no backfill warms it.
 */
async function memoryOverRedis(namespace: string, coldMemory: boolean): Promise<Cache> {
  const { url } = await redisServer()
  const layer = redisLayer({ url, timeout: `${REDIS_TIMEOUT_MS}ms` })
  await layer.connect()
  return createCache({
    namespace,
    layers: [memoryLayer({ maxEntries: MAX_ENTRIES }), layer],
    policies: {
      default: coldMemory ? { ttl: TTL_MS, layers: { memory: { ttl: 0 } } } : { ttl: TTL_MS },
    },
  })
}

/** A loader that counts its calls and the keys it was asked for. */
function countingLoader() {
  const counts = { calls: 0, keys: 0 }
  const load: Loader = async (missing) => {
    counts.calls++
    counts.keys += missing.length
    return missing.map(productFor)
  }
  return { load, counts }
}

/** Redis commands one call of `op` sends, from the server's own counters. */
async function commandsOf(op: () => Promise<unknown>): Promise<Record<string, number>> {
  const server = await redisServer()
  await resetCommandStats(server)
  await op()
  const calls = await commandCalls(server)
  // Without the counters' own commands (the reset, and INFO reading them).
  for (const command of Object.keys(calls))
    if (command.startsWith('config') || command.startsWith('info')) delete calls[command]
  return calls
}

/** Whether a batch came back whole, in order: key i of a batch is product i. */
function wrongAt(found: readonly unknown[]): number {
  if (found.length !== BATCH) return found.length
  return found.findIndex((product, i) => (product as Product | undefined)?.id !== i)
}

/** Keys in Redis, not in memory: every read is one memory miss and one Redis hit. */
function l2Contenders(): Contender[] {
  const reads: { name: string; read: Read }[] = [
    ...READS,
    { name: 'layercache getMany (no loader)', read: (cache, keys) => cache.getMany(keys) },
  ]
  return reads.map(({ name, read }, c) => ({
    name,
    async setup(): Promise<Subject> {
      const cache = await memoryOverRedis(`wm-l2-${c}`, true)
      const batches = Array.from({ length: BATCHES }, (_, b) =>
        Array.from({ length: BATCH }, (_, i) => `product:${b}:${i}`),
      )
      await fillAll(batches.flat(), (key) => cache.set(key, productFor(key)))
      const { load, counts } = countingLoader()
      const op = (n: number) => read(cache, batches[n & MASK]!, load)
      return {
        op,
        async check() {
          const wrong = wrongAt((await op(3)) as unknown[])
          if (wrong !== -1) return `batch 3 came back wrong at ${wrong}`
          if (counts.calls > 0) return `the loader ran ${counts.calls} times: not all were hits`
          const { hits } = cache.stats().layers.memory!
          if (hits > 0) return `memory answered ${hits} reads: it was not cold`
          if (name !== BASELINE) return undefined
          const commands = await commandsOf(() => op(5))
          if (commands.mget !== 1 || Object.keys(commands).length !== 1)
            return `one wrapMany sent ${JSON.stringify(commands)}, not one MGET`
          return undefined
        },
        async close() {
          await cache.clear()
          await cache.close()
        },
      }
    },
  }))
}

/** No layer has any key: each call loads 100 fresh keys and writes them to both layers. */
function missContenders(batches: readonly (readonly string[])[]): Contender[] {
  return READS.map(({ name, read }, c) => ({
    name,
    async setup(): Promise<Subject> {
      const cache = await memoryOverRedis(`wm-miss-${c}`, false)
      const { load, counts } = countingLoader()
      let made = 0
      // The check's own call takes the last batch, which the timed calls never reach.
      const op = (n: number) => {
        made++
        return read(cache, batches[n]!, load)
      }
      return {
        op,
        async check() {
          const calls = made
          const perCall = name === BASELINE ? 1 : BATCH
          if (counts.calls !== calls * perCall || counts.keys !== calls * BATCH)
            return `${calls} batches made ${counts.calls} loader calls for ${counts.keys} keys`
          const again = await cache.getMany(batches[0]!)
          if (wrongAt(again) !== -1) return 'the first batch was not stored'
          if (name !== BASELINE) return undefined
          const commands = await commandsOf(() => op(batches.length - 1))
          if (commands.mget !== 1 || commands.get !== undefined || commands.set !== BATCH)
            return `one wrapMany of missing keys sent ${JSON.stringify(commands)}, not one MGET and ${BATCH} SET`
          return undefined
        },
        async close() {
          await cache.clear()
          await cache.close()
        },
      }
    },
  }))
}

const L2_OPTIONS: MeasureOptions = { iterations: 100, rounds: 11, roundMs: 100 }
// Every call takes 100 fresh keys: few calls per round, so Redis stays small (20,000 keys
// per contender).
const MISS_OPTIONS: MeasureOptions = { iterations: 20, rounds: 9, roundMs: 100 }

/** `wrapMany` of 100 keys in Redis but not in memory, against `wrap` calls and `getMany`. */
export function wrapManyL2(): Scenario {
  return {
    id: 'wrap-many-l2',
    title:
      'Batch get-or-set of 100 keys in Redis, cold in memory: wrapMany vs 100 wrap calls (memory + Redis)',
    baseline: BASELINE,
    options: L2_OPTIONS,
    contenders: l2Contenders(),
    interleave: true,
    showCpu: true,
  }
}

/** `wrapMany` of 100 keys no layer has (one loader call), against 100 `wrap` calls. */
export function wrapManyMiss(): Scenario {
  // One batch per call (warm-up included), and one more for the check; shared by contenders
  // (each has its own namespace), so every one of them sees keys hashed alike.
  const batches = Array.from({ length: totalCalls(MISS_OPTIONS) + 1 }, (_, b) =>
    Array.from({ length: BATCH }, (_, i) => `fresh:${b}:${i}`),
  )
  new Set(batches.flat())
  return {
    id: 'wrap-many-miss',
    title:
      'Batch get-or-set of 100 keys no layer has, loaded and written to memory + Redis: wrapMany vs 100 wrap calls',
    baseline: BASELINE,
    options: MISS_OPTIONS,
    contenders: missContenders(batches),
    interleave: true,
    showCpu: true,
  }
}

/** `wrapMany` against `wrap` calls over memory + Redis. */
export const wrapMany: Suite = {
  name: 'wrap-many',
  scenarios: () => [wrapManyL2(), wrapManyMiss()],
}
