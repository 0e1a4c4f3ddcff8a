import { type Cache, createCache, memoryLayer } from '../../src/index.js'
import { type RedisLayer, redisLayer } from '../../src/redis/index.js'

// One cache instance in its own process, for the multi-process tests of `lock: 'distributed'`
// (test/integration/distributed-lock.test.ts). Forked with `node --import tsx` and an IPC
// channel. 'setup' builds a memory layer over a Redis layer; 'arm' prepares a burst of
// concurrent `wrap` calls on one key (answered 'armed'); 'go' fires them at an instant of a
// clock both processes share, and answers 'done' once all settled. Each factory run adds 1 to
// a counter key in Redis, then reports 'factory' before it waits `factoryMs` (or forever, when
// null). The worker exits when the parent disconnects.

/** Messages from the test to a worker. */
export type ToWorker =
  | { type: 'setup'; url: string; namespace: string; timeoutMs: number }
  | {
      type: 'arm'
      key: string
      calls: number
      lock: 'local' | 'distributed'
      lockLease: number
      /** How long the factory takes; null: it never settles. */
      factoryMs: number | null
      /** The Redis key each factory run INCRs. */
      counter: string
    }
  | { type: 'go'; at: number }

/** What one burst saw. */
export interface BurstResult {
  key: string
  calls: number
  /** The distinct values the callers got. */
  values: string[]
  errors: number
  firstError?: string
  /** Factory runs in this process. */
  runs: number
  /** Shared-clock times (epochMs): when the calls were fired, and when the last one settled. */
  startedAt: number
  settledAt: number
  /** Operations of the 'error' events the cache emitted during the burst. */
  errorOperations: string[]
}

/** Messages from a worker to the test. */
export type FromWorker =
  | { type: 'ready'; pid: number }
  | { type: 'armed' }
  | { type: 'factory'; key: string; at: number }
  | { type: 'done'; result: BurstResult }
  | { type: 'failed'; message: string }

/** A clock both processes share, in ms (wall time, with sub-millisecond resolution). */
const epochMs = (): number => performance.timeOrigin + performance.now()

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Sleeps until the shared clock reads `at` (a timer, then a short spin for the last 2 ms). */
async function waitUntil(at: number): Promise<void> {
  const ahead = at - epochMs() - 2
  if (ahead > 0) await sleep(ahead)
  while (epochMs() < at) {
    // spin: a timer alone wakes up to a millisecond late
  }
}

let cache: Cache | undefined
let layer: RedisLayer | undefined
let armed: Extract<ToWorker, { type: 'arm' }> | undefined
const errorOperations: string[] = []

function send(message: FromWorker): void {
  process.send?.(message)
}

async function burst(plan: Extract<ToWorker, { type: 'arm' }>): Promise<BurstResult> {
  if (!cache || !layer) throw new Error('burst before setup')
  const redis = layer
  const { key, calls, lock, lockLease, factoryMs, counter } = plan
  let runs = 0
  const factory = async (): Promise<string> => {
    const run = ++runs
    await redis.client.incr(counter)
    send({ type: 'factory', key, at: epochMs() })
    if (factoryMs === null) return new Promise<string>(() => {})
    await sleep(factoryMs)
    return `${process.pid}:${key}:${run}`
  }
  errorOperations.length = 0
  const values = new Set<string>()
  let errors = 0
  let firstError: string | undefined
  const startedAt = epochMs()
  const pending: Promise<void>[] = []
  for (let i = 0; i < calls; i++) {
    pending.push(
      cache.wrap(key, factory, { lock, lockLease }).then(
        (value) => {
          values.add(value)
        },
        (error: unknown) => {
          errors++
          firstError ??= error instanceof Error ? error.message : String(error)
        },
      ),
    )
  }
  await Promise.all(pending)
  const result: BurstResult = {
    key,
    calls,
    values: [...values],
    errors,
    runs,
    startedAt,
    settledAt: epochMs(),
    errorOperations: [...errorOperations],
  }
  if (firstError !== undefined) result.firstError = firstError
  return result
}

async function handle(message: ToWorker): Promise<void> {
  switch (message.type) {
    case 'setup': {
      layer = redisLayer({ url: message.url, timeout: message.timeoutMs })
      await layer.connect()
      cache = createCache({ namespace: message.namespace, layers: [memoryLayer(), layer] })
      cache.on('error', (event) => errorOperations.push(event.operation))
      send({ type: 'ready', pid: process.pid })
      return
    }
    case 'arm': {
      armed = message
      send({ type: 'armed' })
      return
    }
    case 'go': {
      const plan = armed
      armed = undefined
      if (!plan) throw new Error('go before arm')
      await waitUntil(message.at)
      send({ type: 'done', result: await burst(plan) })
      return
    }
  }
}

process.on('message', (message: ToWorker) => {
  handle(message).catch((error: unknown) => {
    send({ type: 'failed', message: error instanceof Error ? error.message : String(error) })
  })
})
// The test disconnects (or kills) the worker when it is done: nothing else keeps it alive.
process.on('disconnect', () => {
  process.exit(0)
})
