import { type ChildProcess, fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { createClient } from '@keyv/redis'
import { unpack } from 'msgpackr'
import { afterEach, describe, expect, it } from 'vitest'
import type { Answer, Call, Ops } from '../helpers/bus-worker.js'
import { type RedisServer, startRedis } from '../helpers/redis-server.js'

// Instances of one namespace in separate processes, sharing one real redis-server: each has a
// memory layer, a Redis layer and a Redis bus, and trusts the tag versions it read for an hour,
// so only the bus can tell it of an invalidation in time.

const WORKER = fileURLToPath(new URL('../helpers/bus-worker.ts', import.meta.url))
const ROOT = fileURLToPath(new URL('../..', import.meta.url))

let run = 0
const ns = () => `bus${process.pid}-${run++}`
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const epochMs = (): number => performance.timeOrigin + performance.now()

/** One forked instance, driven by calls. */
class Instance {
  readonly #child: ChildProcess
  readonly #pending = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: Error) => void }
  >()
  #next = 0

  constructor() {
    this.#child = fork(WORKER, [], {
      cwd: ROOT,
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    this.#child.on('message', (answer: Answer) => {
      const waiting = this.#pending.get(answer.id)
      this.#pending.delete(answer.id)
      if (answer.error !== undefined) waiting?.reject(new Error(answer.error))
      else waiting?.resolve(answer.result)
    })
    this.#child.on('exit', () => {
      for (const waiting of this.#pending.values()) waiting.reject(new Error('instance exited'))
      this.#pending.clear()
    })
  }

  call<K extends keyof Ops>(op: K, ...args: Parameters<Ops[K]>): Promise<ReturnType<Ops[K]>> {
    const id = this.#next++
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject })
      this.#child.send({ id, op, args } satisfies Call)
    })
  }

  async stop(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return
    const exited = new Promise((resolve) => this.#child.once('exit', resolve))
    this.#child.kill('SIGKILL')
    await exited
  }
}

const instances: Instance[] = []
const servers: RedisServer[] = []
const admins: { destroy(): void }[] = []
afterEach(async () => {
  for (const client of admins.splice(0)) client.destroy()
  adminOf.clear()
  await Promise.all(instances.splice(0).map((instance) => instance.stop()))
  for (const server of servers) if (server.pid !== undefined) server.resume()
  await Promise.all(servers.splice(0).map((server) => server.stop()))
})

async function cluster(count: number, options: { heartbeat?: string; busTrust?: string } = {}) {
  const server = await startRedis({ control: true })
  servers.push(server)
  const namespace = ns()
  const started = Array.from({ length: count }, () => new Instance())
  instances.push(...started)
  await Promise.all(
    started.map((instance) => instance.call('setup', server.url, namespace, options)),
  )
  // Every bus subscribed: the channel counts them all.
  await until(async () => (await numsub(server, namespace)) === count)
  return { server, namespace, instances: started }
}

/** A node-redis connection for the test's own commands (replies with arrays included). */
/** The node-redis calls the tests make. */
interface Admin {
  sendCommand(args: string[]): Promise<unknown>
}
const adminOf = new Map<RedisServer, Promise<Admin>>()
function admin(server: RedisServer) {
  let client = adminOf.get(server)
  if (!client) {
    const created = createClient({ url: server.url })
    created.on('error', () => {})
    admins.push(created)
    client = created.connect().then(() => created as unknown as Admin)
    adminOf.set(server, client)
  }
  return client
}

async function numsub(server: RedisServer, namespace: string): Promise<number> {
  const client = await admin(server)
  const reply = (await client.sendCommand([
    'PUBSUB',
    'NUMSUB',
    `layercache:v1:${namespace}`,
  ])) as unknown[]
  return Number(reply[1])
}

/** The Redis client id of the connection named `name`, if it exists. */
async function connectionId(server: RedisServer, name: string): Promise<string | undefined> {
  const list = (await (await admin(server)).sendCommand(['CLIENT', 'LIST'])) as string
  const line = String(list)
    .split('\n')
    .find((entry) => entry.includes(` name=${name} `))
  return line ? /(?:^|\s)id=(\d+)/.exec(line)?.[1] : undefined
}

/** Polls `condition` every 10 ms for at most `limitMs`. */
async function until(condition: () => Promise<boolean>, limitMs = 5_000): Promise<void> {
  const deadline = Date.now() + limitMs
  while (Date.now() < deadline) {
    if (await condition()) return
    await sleep(10)
  }
  throw new Error(`condition not met within ${limitMs} ms`)
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!
}

describe('bus across processes', () => {
  it('three instances: an invalidation reaches the others within the bus latency, and at once when acknowledged', async () => {
    const {
      instances: [a, b, c],
    } = await cluster(3)
    const latencies: number[] = []
    for (let round = 0; round < 20; round++) {
      const key = `report:${round}`
      const old = `old-${round}`
      for (const instance of [a!, b!, c!]) {
        expect(await instance.call('wrap', key, old, [`t${round}`])).toBe(old)
      }
      const watching = [b!, c!].map((instance) => instance.call('waitUntilGone', key, old, 3_000))
      await sleep(5) // the watchers are reading in a loop
      const sentAt = epochMs()
      await a!.call('invalidateTags', [`t${round}`], false)
      for (const seenAt of await Promise.all(watching)) {
        expect(seenAt).not.toBeNull()
        latencies.push(Math.max(0, seenAt! - sentAt))
      }
    }
    latencies.sort((x, y) => x - y)
    console.log(
      `bus propagation on loopback: p50 ${percentile(latencies, 0.5).toFixed(2)} ms, p99 ${percentile(latencies, 0.99).toFixed(2)} ms (${latencies.length} samples)`,
    )
    expect(percentile(latencies, 0.5)).toBeLessThan(500)

    // Acknowledged: when the call resolves, no instance serves the old value, without waiting.
    for (let round = 0; round < 10; round++) {
      const key = `acked:${round}`
      for (const instance of [a!, b!, c!]) await instance.call('wrap', key, 'old', ['acked'])
      await a!.call('invalidateTags', ['acked'], true)
      expect(await b!.call('get', key)).toBeNull()
      expect(await c!.call('get', key)).toBeNull()
      await b!.call('wrap', key, 'old', ['x'])
      await c!.call('wrap', key, 'old', ['x'])
      await a!.call('delete', key, true)
      expect(await b!.call('get', key)).toBeNull()
      expect(await c!.call('get', key)).toBeNull()
    }
  })

  it('a subscriber connection killed (CLIENT KILL) misses messages, and its instance never serves what they invalidated', async () => {
    const {
      server,
      instances: [a, b],
    } = await cluster(2)
    for (let round = 0; round < 3; round++) {
      const key = `k${round}`
      await a!.call('wrap', key, 'old', ['t'])
      await b!.call('wrap', key, 'old', ['t'])
      const name = await b!.call('subscriberName')
      const id = await connectionId(server, name)
      expect(id).toBeDefined()
      await server.command('CLIENT', 'KILL', 'ID', id!)
      // b lost its subscription: it is told the bus went down, and must assume what a sends
      // now may be lost (node-redis may already be reconnecting; either way b drops its
      // memory layer and re-reads tag state when it is back).
      await a!.call('invalidateTags', ['t'], false)
      await until(async () => {
        const now = await connectionId(server, name)
        return now !== undefined && now !== id && (await b!.call('connected'))
      })
      expect(await b!.call('get', key)).toBeNull()
      expect(await b!.call('wrap', key, `new${round}`, ['t'])).toBe(`new${round}`)
    }
  })

  it('Redis restarted while instances run: no stale reads after recovery, and publishes queued meanwhile are sent', async () => {
    const {
      server,
      namespace,
      instances: [a, b],
    } = await cluster(2)
    await a!.call('wrap', 'k', 'old', [])
    await b!.call('wrap', 'k', 'old', [])
    // A raw subscriber that reconnects within 10 ms sees what a sends once Redis is back.
    const seen: string[][] = []
    const raw = createClient({ url: server.url, socket: { reconnectStrategy: () => 10 } })
    raw.on('error', () => {})
    await raw.connect()
    await raw.subscribe(
      `layercache:v1:${namespace}`,
      (message: Buffer) => {
        const [, messages] = unpack(message) as [string, unknown[][]]
        for (const m of messages) if (m[0] === 0) seen.push(m[1] as string[])
      },
      true,
    )
    try {
      await server.kill()
      await a!.call('delete', 'k', false) // Redis down: the delete fails open, its message is queued
      await server.restart()
      await until(async () => seen.some((keys) => keys.includes('k')))
      await until(async () => (await a!.call('connected')) && (await b!.call('connected')))
      expect(await b!.call('get', 'k')).toBeNull()
      expect(await a!.call('get', 'k')).toBeNull()
    } finally {
      await raw.destroy()
    }
  })
})

describe('bus across processes: a reference model', () => {
  // Random sequences of set / wrap / get / delete / invalidateTags over three instances. Every
  // value names the step that computed it; after an acknowledged delete or invalidation at
  // step s, no instance may return a value of that key computed at a step before s.
  function prng(seed: number) {
    let state = seed >>> 0
    return () => {
      state = (state + 0x6d2b79f5) >>> 0
      let t = state
      t = Math.imul(t ^ (t >>> 15), t | 1)
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
      return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
    }
  }

  for (const seed of [1, 2]) {
    it(`seed ${seed}: after an acknowledged invalidation, no instance returns a value computed before it`, async () => {
      const { instances: all } = await cluster(3)
      const random = prng(seed)
      const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!
      const keys = ['k0', 'k1', 'k2', 'k3']
      const groupOf = (key: string) => (key < 'k2' ? 'g0' : 'g1')
      /** Per key: the step of the last acknowledged delete or invalidation reaching it. */
      const invalidatedAt = new Map<string, number>(keys.map((key) => [key, -1]))
      const check = (key: string, value: string | null, step: number) => {
        if (value === null) return
        const computedAt = Number(value.split('@')[1])
        expect(computedAt, `step ${step}: ${key} returned ${value}`).toBeGreaterThan(
          invalidatedAt.get(key)!,
        )
      }
      for (let step = 0; step < 120; step++) {
        const instance = pick(all)
        const key = pick(keys)
        const roll = random()
        if (roll < 0.35) {
          check(key, await instance.call('wrap', key, `${key}@${step}`, [groupOf(key)]), step)
        } else if (roll < 0.6) {
          check(key, await instance.call('get', key), step)
        } else if (roll < 0.75) {
          await instance.call('set', key, `${key}@${step}`, [groupOf(key)])
        } else if (roll < 0.88) {
          await instance.call('delete', key, true)
          invalidatedAt.set(key, step)
        } else {
          const group = pick(['g0', 'g1'])
          await instance.call('invalidateTags', [group], true)
          for (const k of keys) if (groupOf(k) === group) invalidatedAt.set(k, step)
        }
      }
    })
  }
})
