import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type Cache, createCache, memoryLayer } from '../../src/index.js'
import { type RedisLayer, redisLayer } from '../../src/redis/index.js'
import { type RedisServer, startRedis } from '../helpers/redis-server.js'

// These bounds tell "answered without waiting for Redis" from "hung until Redis came back";
// they are deliberately loose (speed is measured in bench/, not asserted here).
const TIMEOUT_MS = 100
const FACTORY_MS = 10
const SLACK_MS = 400
const HOT_LIMIT_MS = 50

let server: RedisServer
let caches: Cache[] = []

beforeEach(async () => {
  server = await startRedis({ control: true })
})
afterEach(async () => {
  if (server.pid !== undefined) server.resume() // a frozen server would not let clients close
  await Promise.all(caches.map((cache) => cache.close()))
  caches = []
  await server.stop()
})

async function instance(l1 = true) {
  const redis = redisLayer({
    url: server.url,
    timeout: TIMEOUT_MS,
    breaker: { threshold: 3, cooldown: '300ms' },
  })
  await redis.connect()
  const cache = createCache({ namespace: 'faults', layers: l1 ? [memoryLayer(), redis] : [redis] })
  const errors: unknown[] = []
  cache.on('error', (e) => errors.push(e.error))
  caches.push(cache)
  return { cache, redis: redis as RedisLayer, errors }
}

const slowFactory = (value: string) => () =>
  new Promise<string>((resolve) => setTimeout(() => resolve(value), FACTORY_MS))

/** Times one call; records whether it settled and how. */
async function timed<T>(call: () => Promise<T>) {
  const started = performance.now()
  try {
    const value = await call()
    return { ms: performance.now() - started, value, threw: false }
  } catch (error) {
    return { ms: performance.now() - started, value: error, threw: true }
  }
}

/** Runs a loop of hot and cold calls, calling `fault` at iteration 20; every promise is kept. */
async function loopThrough(cache: Cache, fault: () => Promise<void> | void) {
  for (let i = 0; i < 10; i++) await cache.set(`hot${i}`, `hot-${i}`)
  const hot: number[] = []
  const cold: number[] = []
  const results: { threw: boolean }[] = []
  for (let i = 0; i < 60; i++) {
    if (i === 20) await fault()
    const h = await timed(() => cache.get(`hot${i % 10}`))
    expect(h.value).toBe(`hot-${i % 10}`)
    hot.push(h.ms)
    results.push(h)
    if (i % 6 === 0) {
      const c = await timed(() => cache.wrap(`cold${i}`, slowFactory(`v${i}`)))
      expect(c.value).toBe(`v${i}`)
      if (i >= 20) cold.push(c.ms)
      results.push(c)
    }
  }
  return { hot, cold, results }
}

/** Waits (bounded) until a write and a read go through Redis again. */
async function untilRedisAnswers(redis: RedisLayer, cache: Cache) {
  for (let attempt = 0; attempt < 100; attempt++) {
    await cache.wrap(`probe${attempt}`, async () => 'p')
    if (redis.health().state === 'closed' && redis.health().failures === 0 && redis.client.isReady)
      return attempt
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error('redis never came back')
}

describe('Redis killed mid-loop', () => {
  it('keeps L1 hits fast, cold calls bounded by the timeout, and never throws', async () => {
    const { cache, redis, errors } = await instance()
    const { hot, cold, results } = await loopThrough(cache, () => server.kill())
    expect(results.every((r) => !r.threw)).toBe(true)
    expect(Math.max(...hot)).toBeLessThan(HOT_LIMIT_MS)
    expect(Math.max(...cold)).toBeLessThan(TIMEOUT_MS + FACTORY_MS + SLACK_MS)
    expect(redis.health().state).not.toBe('closed')
    expect(errors.length).toBeGreaterThan(0)
  })

  it('uses Redis again after it restarts', async () => {
    const { cache, redis, errors } = await instance()
    await server.kill()
    for (let i = 0; i < 5; i++) await cache.wrap(`down${i}`, async () => i)
    await server.restart()
    await untilRedisAnswers(redis, cache)
    await cache.set('after', 'restart')
    const other = await instance(false)
    expect(await other.cache.get('after')).toBe('restart')
    // The lost connection was reported once, though the layer connected before the cache existed.
    expect(
      errors.filter(
        (e) =>
          (e as Error).message?.includes('ECONNRESET') || (e as Error).message?.includes('closed'),
      ).length,
    ).toBeGreaterThan(0)
  })
})

describe('Redis frozen (SIGSTOP)', () => {
  it('treats a hung server like a dead one: bounded cold calls, fast L1 hits, no throw', async () => {
    const { cache, redis } = await instance()
    const { hot, cold, results } = await loopThrough(cache, () => server.freeze())
    expect(results.every((r) => !r.threw)).toBe(true)
    expect(Math.max(...hot)).toBeLessThan(HOT_LIMIT_MS)
    expect(Math.max(...cold)).toBeLessThan(TIMEOUT_MS + FACTORY_MS + SLACK_MS)
    // Once the breaker is open a cold call costs about the factory, not the timeout.
    expect(cold.slice(-3).every((ms) => ms < TIMEOUT_MS)).toBe(true)
    expect(redis.health().state).toBe('open')
  })

  it('leaves no promise pending: every call made during the freeze settles', async () => {
    const { cache } = await instance(false)
    server.freeze()
    const calls = Array.from({ length: 50 }, (_, i) =>
      i % 2 === 0 ? cache.get(`k${i}`) : cache.wrap(`k${i}`, async () => i),
    )
    const settled = await Promise.race([
      Promise.allSettled(calls).then((all) => all.length),
      new Promise<string>((resolve) => setTimeout(() => resolve('still pending'), TIMEOUT_MS * 20)),
    ])
    expect(settled).toBe(50)
  })

  it('never serves, after the thaw, a value the frozen Redis kept while writes were skipped', async () => {
    const { cache, redis } = await instance()
    await cache.set('k', 'v1')
    server.freeze()
    for (let i = 0; i < 3; i++) await cache.get(`cold${i}`) // opens the breaker
    expect(redis.health().state).toBe('open')
    await cache.set('k', 'v2') // skipped for Redis: it still holds v1
    await cache.delete('gone') // skipped too
    expect(await cache.get('k')).toBe('v2')
    server.resume()
    await untilRedisAnswers(redis, cache)
    for (let attempt = 0; attempt < 40 && redis.health().dirtyKeys > 0; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 25))
    }
    expect(redis.health().dirtyKeys).toBe(0)
    const other = await instance(false)
    expect(await other.cache.get('k')).toBeUndefined() // repaired: v1 was deleted, not served
  })
})
