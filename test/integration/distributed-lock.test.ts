import { fileURLToPath } from 'node:url'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { type Cache, createCache, memoryLayer } from '../../src/index.js'
import { redisLayer } from '../../src/redis/index.js'
import { ForkedWorker } from '../helpers/forked-worker.js'
import type { BurstResult, FromWorker, ToWorker } from '../helpers/lock-worker.js'
import { type RedisServer, startRedis } from '../helpers/redis-server.js'

// `lock: 'distributed'` across real processes sharing one redis-server: each worker
// (test/helpers/lock-worker.ts) is its own process with its own memory layer over Redis.
// Time bounds are deliberately loose: they tell "waited for the lease" from "did not" and
// "answered" from "hung", nothing finer.

const WORKER = fileURLToPath(new URL('../helpers/lock-worker.ts', import.meta.url))
const ANSWER_MS = 5_000
/** How far ahead of "now" both workers are told to fire, so that they fire together. */
const LEAD_MS = 50
const LAYER_TIMEOUT_MS = 100
const SLACK_MS = 400

let server: RedisServer
let run = 0
const workers: Worker[] = []
const caches: Cache[] = []
const servers: RedisServer[] = []

beforeAll(async () => {
  server = await startRedis()
})
afterEach(async () => {
  await Promise.all(workers.splice(0).map((worker) => worker.kill()))
  for (const s of servers) if (s.pid !== undefined) s.resume() // a frozen server would not let clients close
  await Promise.all(caches.splice(0).map((cache) => cache.close()))
  await Promise.all(servers.splice(0).map((s) => s.stop()))
})
afterAll(async () => {
  await server?.stop()
})

const ns = () => `dlock${process.pid}-${run++}`
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const epochMs = (): number => performance.timeOrigin + performance.now()

/** A forked lock-worker (see test/helpers/lock-worker.ts). */
class Worker extends ForkedWorker<FromWorker, ToWorker> {
  constructor() {
    super(WORKER, ANSWER_MS)
    workers.push(this)
  }

  async setup(namespace: string, url = server.url): Promise<void> {
    this.send({ type: 'setup', url, namespace, timeoutMs: 1_000 })
    await this.take('ready')
  }

  async arm(plan: Omit<Extract<ToWorker, { type: 'arm' }>, 'type'>): Promise<void> {
    this.send({ type: 'arm', ...plan })
    await this.take('armed')
  }
}

/** Starts `count` workers on one namespace (in parallel; each is a tsx process). */
async function startWorkers(count: number, namespace: string): Promise<Worker[]> {
  const started = Array.from({ length: count }, () => new Worker())
  await Promise.all(started.map((worker) => worker.setup(namespace)))
  return started
}

/** Arms every worker with the same burst, then tells them all to fire at one instant. */
async function burstTogether(
  group: readonly Worker[],
  plan: Omit<Extract<ToWorker, { type: 'arm' }>, 'type'>,
): Promise<BurstResult[]> {
  await Promise.all(group.map((worker) => worker.arm(plan)))
  const at = epochMs() + LEAD_MS
  for (const worker of group) worker.send({ type: 'go', at })
  return Promise.all(group.map(async (worker) => (await worker.take('done')).result))
}

/** Polls `check` every 10 ms until it is true, for at most `limitMs`. */
async function eventually(check: () => Promise<boolean>, limitMs = 1_000): Promise<boolean> {
  const deadline = performance.now() + limitMs
  while (performance.now() < deadline) {
    if (await check()) return true
    await sleep(10)
  }
  return check()
}

const leaseKey = (namespace: string, key: string) => `${namespace}#l:${key}`
const counterKey = (namespace: string, key: string) => `${namespace}~runs:${key}`
const runsIn = async (namespace: string, key: string) =>
  Number((await server.command('GET', counterKey(namespace, key))) ?? 0)
const leaseGone = (namespace: string, key: string) =>
  eventually(async () => (await server.command('EXISTS', leaseKey(namespace, key))) === '0')

describe("lock: 'distributed' across processes", () => {
  const CALLS = 500
  const FACTORY_MS = 150
  /** Longer, so that neither process can see the other's value before its own read of Redis. */
  const LOCAL_FACTORY_MS = 150

  it('2 processes x 500 concurrent wraps of a cold key run the factory once in all', async () => {
    const namespace = ns()
    const group = await startWorkers(2, namespace)
    for (let round = 0; round < 4; round++) {
      const key = `cold-${round}`
      const results = await burstTogether(group, {
        key,
        calls: CALLS,
        lock: 'distributed',
        lockLease: 10_000,
        factoryMs: FACTORY_MS,
        counter: counterKey(namespace, key),
      })
      for (const result of results) {
        expect(result.errors, result.firstError).toBe(0)
        expect(result.calls).toBe(CALLS)
      }
      // One run in both processes together: the counter in Redis and the workers agree.
      expect(await runsIn(namespace, key)).toBe(1)
      expect(results.reduce((sum, r) => sum + r.runs, 0)).toBe(1)
      // All 1000 callers got that run's value (the waiting process read it from Redis).
      const values = new Set(results.flatMap((r) => r.values))
      expect(values.size).toBe(1)
      // The bursts overlapped: the second process fired before the first one's factory ended.
      const starts = results.map((r) => r.startedAt)
      // Both processes started while the other's factory ran, so they did contend.
      expect(Math.max(...starts) - Math.min(...starts)).toBeLessThan(FACTORY_MS)
      expect(await leaseGone(namespace, key)).toBe(true)
    }
  })

  it("contrast: with lock: 'local' the same bursts run the factory once per process", async () => {
    const namespace = ns()
    const group = await startWorkers(2, namespace)
    for (let round = 0; round < 2; round++) {
      const key = `cold-${round}`
      const results = await burstTogether(group, {
        key,
        calls: CALLS,
        lock: 'local',
        lockLease: 10_000,
        factoryMs: LOCAL_FACTORY_MS,
        counter: counterKey(namespace, key),
      })
      for (const result of results) {
        expect(result.errors, result.firstError).toBe(0)
        expect(result.runs).toBe(1) // the in-process single flight still holds
      }
      const starts = results.map((r) => r.startedAt)
      expect(Math.max(...starts) - Math.min(...starts)).toBeLessThan(LOCAL_FACTORY_MS)
      // Both processes missed Redis before either stored: two runs, two values.
      expect(await runsIn(namespace, key)).toBe(2)
      expect(new Set(results.flatMap((r) => r.values)).size).toBe(2)
      expect(await server.command('EXISTS', leaseKey(namespace, key))).toBe('0') // no lease taken
    }
  })

  it('a holder killed mid-factory: the waiter computes once the lease expires', async () => {
    const LEASE_MS = 500
    const namespace = ns()
    const key = 'orphaned'
    const [holder, waiter] = await startWorkers(2, namespace)
    const plan = {
      key,
      lock: 'distributed' as const,
      lockLease: LEASE_MS,
      counter: counterKey(namespace, key),
    }

    // The holder takes the lease; its factory never settles.
    await holder!.arm({ ...plan, calls: 1, factoryMs: null })
    holder!.send({ type: 'go', at: 0 })
    await holder!.take('factory')
    const holderToken = await server.command('GET', leaseKey(namespace, key))
    expect(holderToken).not.toBeNull()

    // The waiter joins while the holder is alive: it polls, without running its factory.
    await waiter!.arm({ ...plan, calls: 20, factoryMs: 20 })
    waiter!.send({ type: 'go', at: 0 })
    await sleep(150)
    expect(waiter!.has('factory')).toBe(false)
    expect(waiter!.has('done')).toBe(false)

    // Kill the holder; its lease (still being extended until now) lives on until it expires.
    const leftMs = Number(await server.command('PTTL', leaseKey(namespace, key)))
    const measuredAt = epochMs()
    expect(leftMs).toBeGreaterThan(0)
    await holder!.kill()
    const killedAt = epochMs()
    expect(await server.command('GET', leaseKey(namespace, key))).toBe(holderToken)

    const started = await waiter!.take('factory', 3_000)
    const { result } = await waiter!.take('done', 3_000)
    expect(result.errors, result.firstError).toBe(0)
    expect(result.runs).toBe(1) // the waiter's factory ran exactly once, for its 20 callers
    expect(result.values).toEqual([`${waiter!.pid}:${key}:1`])
    expect(await runsIn(namespace, key)).toBe(2) // the dead holder's run, and the waiter's
    // Not before the dead holder's lease expired; soon after it (one poll interval, <= 100 ms).
    expect(started.at - measuredAt).toBeGreaterThanOrEqual(leftMs - 25)
    expect(started.at - killedAt).toBeLessThan(LEASE_MS + 100 + SLACK_MS)
    const elapsed = result.settledAt - result.startedAt
    expect(elapsed).toBeGreaterThanOrEqual(LEASE_MS * 0.8)
    expect(elapsed).toBeLessThan(2_500)
    expect(await leaseGone(namespace, key)).toBe(true)
  })
})

describe("lock: 'distributed' in one process", () => {
  async function instance(url: string, namespace = ns()) {
    const layer = redisLayer({
      url,
      timeout: LAYER_TIMEOUT_MS,
      breaker: { threshold: 3, cooldown: '300ms' },
    })
    await layer.connect()
    const cache = createCache({ namespace, layers: [memoryLayer(), layer] })
    caches.push(cache)
    const errors: { operation: string; error: unknown }[] = []
    cache.on('error', (event) => errors.push({ operation: event.operation, error: event.error }))
    return { cache, layer, errors, namespace }
  }

  /** 50 concurrent distributed wraps of one cold key; the factory takes `factoryMs`. */
  async function coldBurst(cache: Cache, key: string, factoryMs = 20) {
    let runs = 0
    const factory = async () => {
      runs++
      await sleep(factoryMs)
      return `value-${key}`
    }
    const started = performance.now()
    const values = await Promise.all(
      Array.from({ length: 50 }, () => cache.wrap(key, factory, { lock: 'distributed' })),
    )
    return { ms: performance.now() - started, runs, values: new Set(values) }
  }

  for (const fault of ['frozen (SIGSTOP)', 'killed'] as const) {
    it(`Redis ${fault}: wraps compute here, bounded by the layer timeout, and report it`, async () => {
      const own = await startRedis({ control: true })
      servers.push(own)
      const { cache, errors } = await instance(own.url)
      expect((await coldBurst(cache, 'warm')).runs).toBe(1) // the connection works
      if (fault === 'killed') await own.kill()
      else own.freeze()

      for (let i = 0; i < 4; i++) {
        const result = await coldBurst(cache, `down-${i}`)
        expect(result.values).toEqual(new Set([`value-down-${i}`]))
        expect(result.runs).toBe(1) // still one run per key in this process
        // One layer timeout at most (the read's; no lease is asked of a layer whose read of
        // the key just failed), and less once the breaker is open; never Redis's own time.
        expect(result.ms).toBeLessThan(LAYER_TIMEOUT_MS + 20 + SLACK_MS)
      }
      // The outage was reported.
      expect(errors.length).toBeGreaterThan(0)
    })
  }

  it('takes the lease for the factory and releases it once the value is stored', async () => {
    const { cache, namespace } = await instance(server.url)
    let during: string | null = null
    const value = await cache.wrap(
      'k',
      async () => {
        during = await server.command('GET', leaseKey(namespace, 'k'))
        return 'v'
      },
      { lock: 'distributed', lockLease: '5s' },
    )
    expect(value).toBe('v')
    expect(during).not.toBeNull() // held (with a token) while the factory ran
    expect(await leaseGone(namespace, 'k')).toBe(true)

    // Released after a failing factory too, and not taken at all on a hit.
    const failing = cache.wrap(
      'bad',
      async () => {
        throw new Error('boom')
      },
      { lock: 'distributed' },
    )
    await expect(failing).rejects.toThrow('boom')
    expect(await leaseGone(namespace, 'bad')).toBe(true)

    // A second instance (another memory layer) finds the value in Redis: no factory, no lease.
    const other = await instance(server.url, namespace)
    let runs = 0
    const again = await other.cache.wrap(
      'k',
      async () => {
        runs++
        return 'other'
      },
      { lock: 'distributed' },
    )
    expect(again).toBe('v')
    expect(runs).toBe(0)
    expect(await server.command('EXISTS', leaseKey(namespace, 'k'))).toBe('0')
  })
})
