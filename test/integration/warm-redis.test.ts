import { fileURLToPath } from 'node:url'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { type Cache, createCache, memoryLayer } from '../../src/index.js'
import { type RedisLayer, redisLayer } from '../../src/redis/index.js'
import { ForkedWorker } from '../helpers/forked-worker.js'
import { type RedisServer, startRedis } from '../helpers/redis-server.js'
import { commandCalls, resetCommandStats } from '../helpers/redis-stats.js'
import type { FromWarmerWorker, ToWarmerWorker, WarmerRun } from '../helpers/warmer-worker.js'

// Warming and batch loading against a real redis-server: wrapMany's single batch read and its
// writes through every layer, and scheduled warmers in two processes sharing Redis, which
// take a lease per warmer and period so that each period runs once in the fleet.

const WORKER = fileURLToPath(new URL('../helpers/warmer-worker.ts', import.meta.url))

let server: RedisServer
let run = 0
const open: Cache[] = []
const workers: Worker[] = []

beforeAll(async () => {
  server = await startRedis()
})
afterEach(async () => {
  await Promise.all(workers.splice(0).map((worker) => worker.kill()))
  await Promise.all(open.splice(0).map((cache) => cache.close()))
})
afterAll(async () => {
  await server?.stop()
})

const ns = () => `warm${process.pid}-${run++}`
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** A cache over memory + Redis (or Redis alone) in `namespace`. */
async function instance(namespace: string, options: { l1?: boolean; tagTrust?: string } = {}) {
  const redis = redisLayer({ url: server.url, timeout: '2s' })
  await redis.connect()
  const layers = options.l1 === false ? [redis] : [memoryLayer(), redis]
  const cache = createCache({
    namespace,
    layers,
    ...(options.tagTrust === undefined ? {} : { tagTrust: options.tagTrust }),
  })
  open.push(cache)
  return { cache, redis: redis as RedisLayer }
}

const keyRange = (n: number) => Array.from({ length: n }, (_, i) => `user:${i}`)

describe('wrapMany over Redis', () => {
  it('1,000 keys, half in Redis: one MGET for the lookup, one loader call with the 500 missing, all written to both layers', async () => {
    const namespace = ns()
    const keys = keyRange(1_000)
    const inRedis = keys.filter((_, i) => i % 2 === 0)
    const missing = keys.filter((_, i) => i % 2 === 1)
    const writer = await instance(namespace, { l1: false })
    for (const key of inRedis) await writer.cache.set(key, { key, from: 'redis' })

    const { cache } = await instance(namespace)
    await resetCommandStats(server)
    const calls: string[][] = []
    let atLoad: Record<string, number> = {}
    const load = async (keys: string[]) => {
      calls.push([...keys])
      atLoad = await commandCalls(server) // what the lookup cost, before any write
      return new Map(keys.map((key) => [key, { key, from: 'loader' }]))
    }
    const values = await cache.wrapMany(keys, load)

    expect(calls).toEqual([missing])
    expect(values).toEqual(keys.map((key, i) => ({ key, from: i % 2 === 0 ? 'redis' : 'loader' })))
    // The lookup of 1,000 keys was one round trip: one MGET, no GET.
    expect(atLoad.mget).toBe(1)
    expect(atLoad.get).toBeUndefined()
    const after = await commandCalls(server)
    expect(after.mget).toBe(1)
    expect(after.get).toBeUndefined()

    // The loaded values are in Redis, with the policy's TTL (5 minutes by default).
    expect(await server.command('EXISTS', `${namespace}:${missing[0]}`)).toBe('1')
    const ttl = Number(await server.command('PTTL', `${namespace}:${missing[499]}`))
    expect(ttl).toBeGreaterThan(290_000)
    expect(ttl).toBeLessThanOrEqual(300_000)

    // And in memory: a second call asks neither Redis nor the loader.
    await sleep(50) // the backfill of the 500 Redis hits into memory is in the background
    await resetCommandStats(server)
    expect(await cache.wrapMany(keys, load)).toEqual(values)
    expect(calls).toHaveLength(1)
    const second = await commandCalls(server)
    expect(second.mget).toBeUndefined()
    expect(second.get).toBeUndefined()

    // A fresh instance on the same Redis reads all 1,000 with one MGET and no loader call.
    const { cache: fresh } = await instance(namespace)
    await resetCommandStats(server)
    let freshLoads = 0
    expect(
      await fresh.wrapMany(keys, () => {
        freshLoads++
        return []
      }),
    ).toEqual(values)
    expect(freshLoads).toBe(0)
    const third = await commandCalls(server)
    expect(third.mget).toBe(1)
    expect(third.get).toBeUndefined()
  })

  it('missing keys are not written to Redis, unless negativeTtl says so', async () => {
    const namespace = ns()
    const { cache } = await instance(namespace)
    const load = (keys: string[]) => keys.filter((key) => key !== 'gone').map((key) => `${key}!`)
    // An array answers in key order: 'gone' is the last key, so the array is one short.
    expect(await cache.wrapMany(['a', 'gone'], load)).toEqual(['a!', undefined])
    expect(await server.command('EXISTS', `${namespace}:gone`)).toBe('0')
    expect(await cache.wrapMany(['b', 'gone'], load, { negativeTtl: '30s' })).toEqual([
      'b!',
      undefined,
    ])
    expect(await server.command('EXISTS', `${namespace}:gone`)).toBe('1')
    const ttl = Number(await server.command('PTTL', `${namespace}:gone`))
    expect(ttl).toBeGreaterThan(25_000)
    expect(ttl).toBeLessThanOrEqual(30_000)
    const { cache: other } = await instance(namespace)
    expect(await other.has('gone')).toBe(true)
  })

  it('tags through the Redis tag store: another instance’s invalidation makes the next wrapMany reload', async () => {
    const namespace = ns()
    const { cache } = await instance(namespace, { tagTrust: '0s' })
    const { cache: other } = await instance(namespace, { l1: false })
    const calls: string[][] = []
    const load = (keys: string[]) => {
      calls.push(keys)
      return keys.map((key) => `${key}-v${calls.length}`)
    }
    const tags = (_value: string, key: string) => [`user:${key}`]
    expect(await cache.wrapMany(['a', 'b'], load, { tags })).toEqual(['a-v1', 'b-v1'])
    expect(await other.wrapMany(['a', 'b'], load, { tags })).toEqual(['a-v1', 'b-v1'])
    expect(calls).toHaveLength(1)
    await other.invalidateTags(['user:a'])
    expect(await cache.wrapMany(['a', 'b'], load, { tags })).toEqual(['a-v2', 'b-v1'])
    expect(calls).toEqual([['a', 'b'], ['a']])
  })
})

/** A forked warmer-worker (see test/helpers/warmer-worker.ts). */
class Worker extends ForkedWorker<FromWarmerWorker, ToWarmerWorker> {
  constructor() {
    super(WORKER)
    workers.push(this)
  }
}

describe('scheduled warmers across two processes sharing Redis', () => {
  const EVERY_MS = 300
  const PERIODS = 4

  // A Node timer may fire a little before its boundary: the period a run leases is fixed when
  // it is scheduled (see 'a timer firing 1 ms early' in test/unit/warmers.test.ts).
  it('each period runs once in total, in one process or the other', async () => {
    const namespace = ns()
    const counter = `${namespace}~runs`
    const group = [new Worker(), new Worker()]
    for (const worker of group)
      worker.send({ type: 'start', url: server.url, namespace, everyMs: EVERY_MS, counter })
    const ready = await Promise.all(group.map((worker) => worker.take('ready', 10_000)))
    const readyAt = Date.now()
    // Aligned on the period boundaries of the shared (wall) clock, with no jitter.
    for (const { nextRun } of ready) expect(nextRun! % EVERY_MS).toBe(0)
    // From the first boundary after both are ready, let PERIODS periods run, then stop mid-period.
    const first = Math.floor(readyAt / EVERY_MS) + 1
    const last = first + PERIODS - 1
    await sleep((last + 0.5) * EVERY_MS - Date.now())
    // The lease of the period running now is in Redis, taken for one period.
    const lease = `${namespace}#l:#warmer:dash:${last}`
    expect(await server.command('EXISTS', lease)).toBe('1')
    expect(Number(await server.command('PTTL', lease))).toBeLessThanOrEqual(EVERY_MS)
    for (const worker of group) worker.send({ type: 'stop' })
    const stopped = await Promise.all(group.map((worker) => worker.take('stopped')))
    const runs: WarmerRun[] = stopped.flatMap((s) => s.runs)
    const leases = stopped.flatMap((s) => s.leases).sort((a, b) => a.at - b.at)
    const story = JSON.stringify({ every: EVERY_MS, readyAt, first, last, runs, leases })
    for (const s of stopped) expect(s.errors, story).toEqual([])

    // A period is the one a run was leased for (under load a run may start late, past the end
    // of its period, so the wall clock at the start of the run would not tell). Every run had
    // a lease, and no lease was taken twice.
    expect(
      runs.filter((r) => r.period < 0),
      story,
    ).toEqual([])
    const taken = leases.filter((l) => l.taken).map((l) => l.key)
    expect(new Set(taken).size, story).toBe(taken.length)
    // No period ran twice, whichever process ran it.
    const byPeriod = new Map<number, WarmerRun[]>()
    for (const r of runs) byPeriod.set(r.period, [...(byPeriod.get(r.period) ?? []), r])
    for (const [period, inPeriod] of byPeriod) {
      expect(inPeriod, `period ${period} ran ${inPeriod.length} times: ${story}`).toHaveLength(1)
    }
    // Every period from the first boundary after both were ready to the one running at stop
    // ran once in all, as Redis counted.
    for (let period = first; period <= last; period++) {
      expect(byPeriod.get(period), `period ${period} did not run: ${story}`).toHaveLength(1)
      expect(await server.command('GET', `${counter}:${period}`)).toBe('1')
    }
    // They did contend: each of those leases was taken once, and the other process was
    // refused some (it then did not run).
    let refused = 0
    for (let period = first; period <= last; period++) {
      const asked = leases.filter((l) => l.key === `#warmer:dash:${period}`)
      expect(asked.filter((l) => l.taken).length, story).toBe(1)
      refused += asked.filter((l) => !l.taken).length
    }
    expect(refused, story).toBeGreaterThan(0)
    // Each run warmed its period's key into Redis, where both processes see it.
    const { cache } = await instance(namespace, { l1: false })
    expect(await cache.get(`dash:${last}`)).toMatchObject({ period: last })
  }, 20_000)
})
