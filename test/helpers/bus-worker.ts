import { type Cache, createCache, memoryLayer } from '../../src/index.js'
import { type RedisBus, redisBus, redisLayer } from '../../src/redis/index.js'

// One cache instance with a memory layer, a Redis layer and a Redis bus, in its own process,
// for the multi-instance tests (test/integration/bus-instances.test.ts). Driven over IPC by
// calls { id, op, args } answered { id, result } or { id, error }. Exits when the parent
// disconnects.

/** What the test can ask an instance to do. */
export interface Ops {
  setup(url: string, namespace: string, options: { heartbeat?: string; busTrust?: string }): number
  wrap(key: string, value: string, tags: string[]): string
  get(key: string): string | null
  set(key: string, value: string, tags: string[]): null
  delete(key: string, acknowledge: boolean): null
  invalidateTags(tags: string[], acknowledge: boolean): null
  /** Reads `key` in a tight loop until it is no longer `old`: the shared-clock time it saw that. */
  waitUntilGone(key: string, old: string, limitMs: number): number | null
  /** The name of the bus's subscriber connection in CLIENT LIST (to CLIENT KILL it). */
  subscriberName(): string
  connected(): boolean
  close(): null
}

export type Call = { id: number; op: keyof Ops; args: unknown[] }
export type Answer = { id: number; result?: unknown; error?: string }

/** A clock both processes share, in ms, with sub-millisecond resolution. */
export const epochMs = (): number => performance.timeOrigin + performance.now()

let cache: Cache | undefined
let bus: RedisBus | undefined

const ops: { [K in keyof Ops]: (...args: Parameters<Ops[K]>) => Promise<ReturnType<Ops[K]>> } = {
  async setup(url, namespace, options) {
    const layer = redisLayer({ url })
    await layer.connect()
    bus = redisBus({ url, ...(options.heartbeat ? { heartbeat: options.heartbeat } : {}) })
    cache = createCache({
      namespace,
      layers: [memoryLayer(), layer],
      bus,
      // Tag versions read from Redis are trusted for an hour: only the bus tells of a move.
      tagTrust: '1h',
      ...(options.busTrust ? { busTrust: options.busTrust } : {}),
    })
    return process.pid
  },
  async wrap(key, value, tags) {
    return (await cache!.wrap(key, () => value, { tags })) as string
  },
  async get(key) {
    return ((await cache!.get(key)) as string | undefined) ?? null
  },
  async set(key, value, tags) {
    await cache!.set(key, value, { tags })
    return null
  },
  async delete(key, acknowledge) {
    await cache!.delete(key, { acknowledge })
    return null
  },
  async invalidateTags(tags, acknowledge) {
    await cache!.invalidateTags(tags, { acknowledge })
    return null
  },
  async waitUntilGone(key, old, limitMs) {
    const until = epochMs() + limitMs
    while (epochMs() < until) {
      if ((await cache!.get(key)) !== old) return epochMs()
      await new Promise((resolve) => setImmediate(resolve))
    }
    return null
  },
  async subscriberName() {
    return bus!.subscriberName
  },
  async connected() {
    return bus!.connected
  },
  async close() {
    await cache?.close()
    return null
  },
}

process.on('message', async (call: Call) => {
  try {
    const run = ops[call.op] as (...args: unknown[]) => Promise<unknown>
    const result = await run(...call.args)
    process.send?.({ id: call.id, result } satisfies Answer)
  } catch (error) {
    process.send?.({
      id: call.id,
      error: String((error as Error)?.message ?? error),
    } satisfies Answer)
  }
})
process.on('disconnect', () => {
  void cache?.close().finally(() => process.exit(0))
  setTimeout(() => process.exit(0), 1_000).unref()
})
