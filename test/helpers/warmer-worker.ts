import { type Cache, createCache, memoryLayer } from '../../src/index.js'
import { type RedisLayer, redisLayer } from '../../src/redis/index.js'

// One cache instance in its own process, for the test of scheduled warmers across processes
// (test/integration/warm-redis.test.ts). Forked with `node --import tsx` and an IPC channel.
// 'start' builds a memory layer over a Redis layer and registers the warmer 'dash' with
// `every` and no jitter. The leases the cache asks Redis for are recorded; each run of the
// warmer's source INCRs `${counter}:${period}` in Redis, `period` being the one its lease was
// taken for, and warms one key of that period. 'stop' closes the cache and answers with the
// runs and lease attempts seen here. The worker exits when the parent disconnects.

/** Messages from the test to a worker. */
export type ToWarmerWorker =
  | { type: 'start'; url: string; namespace: string; everyMs: number; counter: string }
  | { type: 'stop' }

/** One run of the warmer's source in a worker. */
export interface WarmerRun {
  pid: number
  /** The period the run was leased for (from the last lease this process took), or -1. */
  period: number
  /** Math.floor(Date.now() / every) when the source was called (late under load). */
  wallPeriod: number
  at: number
}

/** One lease this process asked for. */
export interface LeaseAttempt {
  pid: number
  key: string
  at: number
  taken: boolean
}

/** Messages from a worker to the test. */
export type FromWarmerWorker =
  | { type: 'ready'; pid: number; nextRun: number | undefined }
  | {
      type: 'stopped'
      runs: WarmerRun[]
      leases: LeaseAttempt[]
      lastRun: number | undefined
      reports: number
      errors: string[]
    }
  | { type: 'failed'; message: string }

let cache: Cache | undefined
let layer: RedisLayer | undefined
const runs: WarmerRun[] = []
const leases: LeaseAttempt[] = []
const errors: string[] = []
let reports = 0

function send(message: FromWarmerWorker): void {
  process.send?.(message)
}

async function handle(message: ToWarmerWorker): Promise<void> {
  switch (message.type) {
    case 'start': {
      const { url, namespace, everyMs, counter } = message
      layer = redisLayer({ url, timeout: 1_000 })
      await layer.connect()
      const redis = layer
      // Record the leases the cache asks for, to tell which period each run was leased for.
      const lockStore = redis.lockStore.bind(redis)
      redis.lockStore = () => {
        const store = lockStore()
        return {
          acquire: async (key, token, ttlMs) => {
            const at = Date.now()
            const taken = await store.acquire(key, token, ttlMs)
            leases.push({ pid: process.pid, key, at, taken })
            return taken
          },
          extend: (key, token, ttlMs) => store.extend(key, token, ttlMs),
          release: (key, token) => store.release(key, token),
        }
      }
      cache = createCache({ namespace, layers: [memoryLayer(), redis] })
      cache.on('error', (event) => errors.push(`${event.operation}: ${String(event.error)}`))
      cache.on('warm', () => reports++)
      cache.warmers.register(
        'dash',
        async () => {
          const at = Date.now()
          const lease = leases.filter((l) => l.taken).at(-1)?.key
          const period = lease === undefined ? -1 : Number(lease.slice(lease.lastIndexOf(':') + 1))
          runs.push({ pid: process.pid, period, wallPeriod: Math.floor(at / everyMs), at })
          await redis.client.incr(`${counter}:${period}`)
          return [{ key: `dash:${period}`, factory: () => ({ period, pid: process.pid }) }]
        },
        { every: everyMs, jitter: 0 },
      )
      send({ type: 'ready', pid: process.pid, nextRun: cache.warmers.list()[0]!.nextRun })
      return
    }
    case 'stop': {
      const lastRun = cache?.warmers.list()[0]?.lastRun
      await cache?.close()
      send({ type: 'stopped', runs, leases, lastRun, reports, errors })
      return
    }
  }
}

process.on('message', (message: ToWarmerWorker) => {
  handle(message).catch((error: unknown) => {
    send({ type: 'failed', message: error instanceof Error ? error.message : String(error) })
  })
})
// The test disconnects (or kills) the worker when it is done: nothing else keeps it alive.
process.on('disconnect', () => {
  process.exit(0)
})
