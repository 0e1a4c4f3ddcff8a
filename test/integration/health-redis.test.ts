import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { type Cache, createCache, type HealthReport, memoryLayer } from '../../src/index.js'
import { type RedisBus, redisBus, redisLayer } from '../../src/redis/index.js'
import { type RedisServer, startRedis } from '../helpers/redis-server.js'

// health() and inspect() against a real redis-server: a memory layer over a Redis layer, with
// a Redis bus. Freezing the server (SIGSTOP) keeps its sockets open, so nothing fails fast:
// only the timeouts can tell that it is gone.

const LAYER_TIMEOUT_MS = 100
const HEALTH_TIMEOUT_MS = 300
const COOLDOWN_MS = 1_000
const HEARTBEAT = '100ms'

let server: RedisServer
let run = 0
let caches: Cache[] = []

beforeAll(async () => {
  server = await startRedis({ control: true })
})
afterEach(async () => {
  if (server.pid !== undefined) server.resume() // a frozen server would not let clients close
  await Promise.all(caches.map((cache) => cache.close()))
  caches = []
})
afterAll(async () => {
  await server.stop()
})

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Polls `condition` every 10 ms for at most `limitMs`; rejects naming `what` when it never holds. */
async function until<T>(
  probe: () => Promise<T> | T,
  condition: (value: T) => boolean,
  what: string,
  limitMs = 5_000,
): Promise<T> {
  const started = performance.now()
  for (;;) {
    const value = await probe()
    if (condition(value)) return value
    if (performance.now() - started > limitMs) throw new Error(`${what}: not within ${limitMs} ms`)
    await sleep(10)
  }
}

/** One instance: memory over Redis, with a Redis bus on a channel of the test's own. */
async function instance(namespace: string) {
  const redis = redisLayer({
    url: server.url,
    timeout: LAYER_TIMEOUT_MS,
    breaker: { threshold: 3, cooldown: COOLDOWN_MS },
  })
  await redis.connect()
  const bus = redisBus({ url: server.url, channel: namespace, heartbeat: HEARTBEAT })
  const cache = createCache({ namespace, layers: [memoryLayer(), redis], bus })
  cache.on('error', () => {}) // the outages below are on purpose
  caches.push(cache)
  await until(
    () => bus.connected,
    (connected) => connected,
    'bus connected',
  )
  return { cache, bus: bus as RedisBus }
}

const ns = () => `health${process.pid}-${run++}`

/** Runs `cache.health()` and times it on the wall clock. */
async function timedHealth(cache: Cache): Promise<{ report: HealthReport; ms: number }> {
  const started = performance.now()
  const report = await cache.health({ timeout: HEALTH_TIMEOUT_MS })
  return { report, ms: performance.now() - started }
}

describe('health() with Redis', () => {
  it('reports every layer and the bus up, with latencies and the instances listening', async () => {
    const namespace = ns()
    const { cache } = await instance(namespace)
    await instance(namespace)
    const report = await cache.health()
    expect(report).toEqual({
      status: 'up',
      layers: [
        { name: 'memory', status: 'up', latencyMs: expect.any(Number), breaker: 'none' },
        {
          name: 'redis',
          status: 'up',
          latencyMs: expect.any(Number),
          breaker: 'closed',
          failures: 0,
          dirtyKeys: 0,
        },
      ],
      bus: { status: 'up', connected: true, latencyMs: expect.any(Number), listeners: 2 },
    })
    for (const latency of [...report.layers.map((l) => l.latencyMs!), report.bus!.latencyMs!]) {
      expect(latency).toBeGreaterThanOrEqual(0)
      expect(latency).toBeLessThan(HEALTH_TIMEOUT_MS)
    }
  })

  it('answers in bounded time while Redis is frozen, opens the breaker, and recovers after SIGCONT', async () => {
    const { cache, bus } = await instance(ns())
    server.freeze()
    try {
      // The first probe waits for the layer's own timeout: Redis down, memory up, degraded.
      const first = await timedHealth(cache)
      expect(first.ms).toBeLessThan(HEALTH_TIMEOUT_MS + 1_000)
      expect(first.report.status).toBe('degraded')
      expect(first.report.layers[0]).toMatchObject({ name: 'memory', status: 'up' })
      expect(first.report.layers[1]).toMatchObject({
        name: 'redis',
        status: 'down',
        breaker: 'closed',
        failures: 1,
        error: expect.any(String),
      })
      expect(first.report.layers[1]!.latencyMs).toBeGreaterThanOrEqual(LAYER_TIMEOUT_MS - 5)
      // Counting the listeners times out too: the bus is down before its heartbeat notices.
      expect(first.report.bus).toMatchObject({ status: 'down', error: expect.any(String) })
      // Then the heartbeat notices: the bus reports it is not connected.
      const disconnected = await until(
        () => cache.health({ timeout: HEALTH_TIMEOUT_MS }),
        (report) => report.bus?.connected === false,
        'bus disconnected',
      )
      expect(disconnected.status).toBe('degraded')
      expect(disconnected.bus).toMatchObject({ status: 'down', connected: false })
      // Failed probes count for the breaker; once open, health reports it without probing.
      const opened = await until(
        () => cache.health({ timeout: HEALTH_TIMEOUT_MS }),
        (report) => report.layers[1]!.breaker === 'open',
        'breaker open',
      )
      expect(opened.layers[1]).toMatchObject({ status: 'down', breaker: 'open' })
      const failures = opened.layers[1]!.failures!
      expect(failures).toBeGreaterThanOrEqual(3) // the threshold
      const skipped = await timedHealth(cache)
      expect(skipped.report.layers[1]).toEqual({
        name: 'redis',
        status: 'down',
        breaker: 'open',
        failures,
        dirtyKeys: 0,
        error: expect.any(String),
      }) // no latencyMs: Redis was not asked
      expect(skipped.report.status).toBe('degraded')
      expect(skipped.ms).toBeLessThan(HEALTH_TIMEOUT_MS + 1_000)
    } finally {
      server.resume()
    }
    // After the cooldown a probe goes through: Redis and the bus are up again.
    const recovered = await until(
      () => cache.health({ timeout: HEALTH_TIMEOUT_MS }),
      (report) => report.status === 'up',
      'health up after SIGCONT',
      COOLDOWN_MS + 5_000,
    )
    expect(recovered.layers[1]).toMatchObject({ name: 'redis', status: 'up' })
    expect(recovered.bus).toMatchObject({ status: 'up', connected: true, listeners: 1 })
    expect(bus.connected).toBe(true)
  })
})

describe('inspect() with Redis', () => {
  it('shows one envelope in memory and in Redis after a backfill, with its encoded size', async () => {
    const namespace = ns()
    const a = await instance(namespace)
    const b = await instance(namespace)
    const computed = await a.cache.wrapResult('k', () => ({ rows: [1, 2, 3] }), { tags: ['t'] })
    expect(computed.status).toBe('miss')
    // b has it in Redis only; a read copies it into b's memory.
    const before = await b.cache.inspect('k')
    expect(before.layers.map((l) => [l.layer, l.state])).toEqual([
      ['memory', 'missing'],
      ['redis', 'fresh'],
    ])
    const fromRedis = await b.cache.getResult('k')
    expect(fromRedis).toMatchObject({ status: 'hit', layer: 'redis', entry: computed.entry })
    const after = await until(
      () => b.cache.inspect('k', { value: true }),
      (report) => report.layers[0]!.state === 'fresh',
      'backfilled into memory',
    )
    const [memory, redis] = after.layers
    expect(memory!.createdAt).toBe(computed.entry!.createdAt)
    expect(redis!.createdAt).toBe(computed.entry!.createdAt)
    expect(memory).toMatchObject({ tags: ['t'], policy: 'default', value: { rows: [1, 2, 3] } })
    expect(redis).toMatchObject({ tags: ['t'], policy: 'default', value: { rows: [1, 2, 3] } })
    expect(redis!.sizeBytes).toBeGreaterThan(0)
    expect((await b.cache.getResult('k'))?.layer).toBe('memory')
    // An invalidation by a reaches b (through the bus): the entry Redis still holds is
    // reported invalidated, and b's memory copy is invalidated or dropped.
    await a.cache.invalidateTags(['t'])
    const invalidated = await until(
      () => b.cache.inspect('k'),
      (report) => report.layers.every((l) => l.state === 'invalidated' || l.state === 'missing'),
      'invalidated in b',
    )
    expect(invalidated.layers[1]).toMatchObject({ layer: 'redis', state: 'invalidated' })
    expect(await b.cache.get('k')).toBeUndefined()
  })
})
