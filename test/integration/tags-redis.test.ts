import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { type Cache, CacheError, createCache, memoryLayer } from '../../src/index.js'
import { redisLayer } from '../../src/redis/index.js'
import { type ManualClock, manualClock } from '../helpers/clock.js'
import { deferred } from '../helpers/map-layer.js'
import { type RedisServer, startRedis } from '../helpers/redis-server.js'
import { commandCalls, resetCommandStats } from '../helpers/redis-stats.js'

const DAY = 86_400_000
let server: RedisServer
let caches: Cache[] = []
let run = 0

beforeAll(async () => {
  server = await startRedis({ control: true })
})
afterEach(async () => {
  if (server.pid !== undefined) server.resume()
  await Promise.all(caches.map((cache) => cache.close()))
  caches = []
})
afterAll(async () => {
  await server.stop()
})

/** An instance (memory + Redis) of `namespace`, with its own clock. */
async function instance(namespace: string, clock: ManualClock = manualClock(), timeout = '2s') {
  const redis = redisLayer({ url: server.url, timeout })
  await redis.connect()
  const cache = createCache({ namespace, clock, layers: [memoryLayer(), redis], prefixes: true })
  caches.push(cache)
  return { cache, clock, redis }
}

const ns = () => `tags${process.pid}-${run++}`

describe('tags shared through Redis', () => {
  it('an invalidation on one instance reaches another once it re-reads tag state (tagTrust)', async () => {
    const namespace = ns()
    const a = await instance(namespace)
    const b = await instance(namespace)
    let version = 1
    const load = async () => `v${version}`
    expect(await a.cache.wrap('dash', load, { tags: ['user:42'] })).toBe('v1')
    expect(await b.cache.wrap('dash', load, { tags: ['user:42'] })).toBe('v1') // from Redis
    version = 2
    await b.cache.invalidateTags(['user:42'])
    expect(await b.cache.get('dash')).toBeUndefined() // the invalidating instance: at once
    a.clock.advance(1_000) // a's trust in its tag versions runs out: it reads them again
    expect(await a.cache.get('dash')).toBeUndefined()
    expect(await a.cache.wrap('dash', load, { tags: ['user:42'] })).toBe('v2')
  })

  it('does not store a value computed across an invalidation made by another instance', async () => {
    const namespace = ns()
    const a = await instance(namespace)
    const b = await instance(namespace)
    const gate = deferred<string>()
    const running = a.cache.wrap('report', () => gate.promise, { tags: ['team:1'] })
    await new Promise((resolve) => setTimeout(resolve, 20)) // a recorded the tag versions
    await b.cache.invalidateTags(['team:1'])
    gate.resolve('computed from old data')
    expect(await running).toBe('computed from old data')
    expect(await a.cache.get('report')).toBeUndefined()
    expect(await b.cache.get('report')).toBeUndefined()
    expect(await a.cache.wrap('report', async () => 'fresh', { tags: ['team:1'] })).toBe('fresh')
  })

  it.each([
    ['5 minutes ahead', 5 * 60_000],
    ['5 minutes behind', -5 * 60_000],
  ])('never serves an invalidated value with clocks %s of each other', async (_, skew) => {
    const namespace = ns()
    const base = 1_800_000_000_000
    const a = await instance(namespace, manualClock(base))
    const b = await instance(namespace, manualClock(base + skew))
    let version = 1
    const load = async () => `v${version}`
    const keys = ['k1', 'k2', 'k3']
    for (const key of keys) await a.cache.wrap(key, load, { ttl: '1h', tags: ['shared'] })
    for (const key of keys) await b.cache.get(key) // b's L1 holds them too
    for (let round = 2; round <= 4; round++) {
      version = round
      const [writer, other] = round % 2 === 0 ? [b, a] : [a, b]
      await writer.cache.invalidateTags(['shared'])
      other.clock.advance(1_000) // the other re-reads tag state
      for (const instanceOf of [a, b]) {
        for (const key of keys) {
          const value = await instanceOf.cache.wrap(key, load, { ttl: '1h', tags: ['shared'] })
          expect(value).toBe(`v${round}`)
        }
      }
    }
  })

  it('keeps a moved tag at least as long as the longest entry that may carry it', async () => {
    const namespace = ns()
    const a = await instance(namespace)
    await a.cache.set('long', 'old', { ttl: '30d', tags: ['t'] })
    await a.cache.invalidateTags(['t'])
    const ttl = Number(await server.command('PTTL', `${namespace}#t:t`))
    expect(ttl).toBeGreaterThan(30 * DAY) // not just the one-day grace
    const forever = await instance(ns())
    await forever.cache.set('k', 1, { ttl: Number.POSITIVE_INFINITY, tags: ['f'] })
    await forever.cache.invalidateTags(['f'])
    expect(Number(await server.command('PTTL', `${forever.cache.namespace}#t:f`))).toBe(-1)
    expect(await forever.cache.get('k')).toBeUndefined()
  })

  it('moves a tag with one command, whatever the number of entries, and never scans', async () => {
    const namespace = ns()
    const a = await instance(namespace)
    for (let i = 0; i < 500; i++) await a.cache.set(`k${i}`, i, { tags: ['many'] })
    await resetCommandStats(server)
    await a.cache.invalidateTags(['many'])
    const calls = await commandCalls(server)
    expect(calls.eval).toBe(1) // one round trip
    expect(calls.hincrby).toBe(2) // inside it: the hard and soft counters of one tag
    for (const scanOrDelete of ['scan', 'keys', 'del', 'unlink', 'flushdb']) {
      expect(calls[scanOrDelete]).toBeUndefined()
    }
    const reader = await instance(namespace)
    expect(await reader.cache.getMany(['k1', 'k499'])).toEqual([undefined, undefined])
  })

  it('invalidates prefixes across instances the same way', async () => {
    const namespace = ns()
    const a = await instance(namespace)
    const b = await instance(namespace)
    await a.cache.set('analytics:student:456:report', 'r')
    await a.cache.set('analytics:student:457:report', 's')
    await b.cache.invalidatePrefix('analytics:student:456')
    a.clock.advance(1_000)
    expect(
      await a.cache.getMany(['analytics:student:456:report', 'analytics:student:457:report']),
    ).toEqual([undefined, 's'])
  })

  it('with tagTrust 0 asks the store on every read, and still serves hits', async () => {
    const namespace = ns()
    const redis = redisLayer({ url: server.url, timeout: '2s' })
    await redis.connect()
    const strict = createCache({ namespace, layers: [memoryLayer(), redis], tagTrust: 0 })
    caches.push(strict)
    const other = await instance(namespace)
    let runs = 0
    for (let i = 0; i < 5; i++) await strict.wrap('k', async () => ++runs, { tags: ['t'] })
    expect(runs).toBe(1)
    await other.cache.invalidateTags(['t'])
    expect(await strict.get('k')).toBeUndefined() // no trust window: seen at once
  })

  it('rejects an invalidation that could not reach the tag store, and keeps serving reads', async () => {
    const namespace = ns()
    const a = await instance(namespace, manualClock(), '100ms')
    await a.cache.set('k', 'v', { tags: ['t'] })
    server.freeze()
    const error = await a.cache.invalidateTags(['t']).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(CacheError)
    expect((error as CacheError).code).toBe('E_LAYER')
    expect(await a.cache.get('k')).toBe('v')
    server.resume()
  })
})
