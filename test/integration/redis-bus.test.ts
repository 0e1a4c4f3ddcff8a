import { createClient } from '@keyv/redis'
import { pack, unpack } from 'msgpackr'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { type Cache, CacheError, createCache, type Layer, memoryLayer } from '../../src/index.js'
import { type RedisClient, redisBus, redisLayer } from '../../src/redis/index.js'
import { type RedisServer, startRedis } from '../helpers/redis-server.js'
import { commandCalls, resetCommandStats } from '../helpers/redis-stats.js'

// Two caches of one namespace in this process, each with its own memory layer and its own
// Redis bus, sharing one real redis-server. Tag versions read from Redis are trusted for an
// hour, so only the bus can tell an instance of another's invalidation in time.

let server: RedisServer
let run = 0
let caches: Cache[] = []
const cleanups: (() => Promise<unknown> | unknown)[] = []

beforeAll(async () => {
  server = await startRedis({ control: true })
})
afterEach(async () => {
  if (server.pid !== undefined)
    server.resume() // a frozen server would not let clients close
  else await server.restart() // a test that killed it and failed before restarting it
  await Promise.all(caches.map((cache) => cache.close()))
  caches = []
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})
afterAll(async () => {
  await server.stop()
})

const ns = () => `bus${process.pid}-${run++}`
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Polls `condition` every 5 ms for at most `limitMs`; rejects naming `what` when it never holds. */
async function until(
  condition: () => boolean | Promise<boolean>,
  what: string,
  limitMs = 2_000,
): Promise<number> {
  const started = performance.now()
  while (performance.now() - started < limitMs) {
    if (await condition()) return performance.now() - started
    await sleep(5)
  }
  throw new Error(`${what}: not within ${limitMs} ms`)
}

interface InstanceOptions {
  /** With a Redis layer under the memory layer (default true). */
  l2?: boolean
  bus?: Parameters<typeof redisBus>[0]
  prefixes?: boolean
}

/** A cache (memory, and Redis unless `l2: false`) with a bus, and the errors it emitted. */
async function instance(namespace: string, options: InstanceOptions = {}) {
  const layers: Layer[] = [memoryLayer()]
  if (options.l2 !== false) {
    const redis = redisLayer({ url: server.url })
    await redis.connect()
    layers.push(redis)
  }
  const bus = redisBus(options.bus ?? { url: server.url })
  const cache = createCache({
    namespace,
    layers,
    bus,
    tagTrust: '1h',
    ...(options.prefixes ? { prefixes: true } : {}),
  })
  const errors: { error: unknown; operation: string }[] = []
  cache.on('error', (event) => errors.push(event))
  caches.push(cache)
  return { cache, bus, errors }
}

/** Two instances of one namespace, both buses connected. */
async function pair(options: InstanceOptions = {}) {
  const namespace = ns()
  const a = await instance(namespace, options)
  const b = await instance(namespace, options)
  await until(() => a.bus.connected && b.bus.connected, 'both buses connected')
  return { namespace, a, b }
}

/** Reads `key` and tells which layer answered (undefined for a miss). */
async function read(cache: Cache, key: string): Promise<{ value: unknown; layer?: string }> {
  let layer: string | undefined
  const off = cache.on('hit', (event) => {
    if (event.key === key) layer = event.layer
  })
  try {
    const value = await cache.get(key)
    return layer === undefined ? { value } : { value, layer }
  } finally {
    off()
  }
}

/** A node-redis client of the test's own, closed after the test. */
async function rawClient(options: Parameters<typeof createClient>[0] = {}): Promise<RedisClient> {
  const client = createClient({ url: server.url, ...options }) as unknown as RedisClient
  client.on('error', () => {})
  await client.connect()
  cleanups.push(() => client.isOpen && client.destroy())
  return client
}

/** The Redis ids of the connections named `name` (CLIENT LIST). */
async function connectionsNamed(name: string): Promise<string[]> {
  const list = (await server.command('CLIENT', 'LIST')) ?? ''
  return list
    .split('\n')
    .filter((line) => line.includes(` name=${name}:`)) // then the instance's id
    .map((line) => /(?:^|\s)id=(\d+)/.exec(line)![1]!)
}

describe('redisBus: coherent memory layers across instances', () => {
  const changes: [string, (cache: Cache) => Promise<unknown>, unknown][] = [
    ['delete', (cache) => cache.delete('user:1:name'), undefined],
    ['set', (cache) => cache.set('user:1:name', 'new'), 'new'],
    ['invalidateTags', (cache) => cache.invalidateTags(['user:1']), undefined],
    ['invalidatePrefix', (cache) => cache.invalidatePrefix('user:1'), undefined],
    ['clear', (cache) => cache.clear(), undefined],
  ]

  it.each(changes)(
    '%s on one instance: the other stops serving the old value from memory',
    async (_, change, expected) => {
      const { a, b } = await pair({ prefixes: true })
      // b warms itself: a message of a's own write could reach b after b read it from Redis.
      await b.cache.wrap('user:1:name', async () => 'old', { tags: ['user:1'] })
      expect(await read(b.cache, 'user:1:name')).toEqual({ value: 'old', layer: 'memory' })
      await change(a.cache)
      await until(
        async () => (await b.cache.get('user:1:name')) === expected,
        'the other instance sees the change',
      )
      expect(a.errors).toEqual([])
      expect(b.errors).toEqual([])
    },
  )

  it("ignores its own messages: a cache's own write keeps its memory layer", async () => {
    const { a, b } = await pair()
    await a.cache.set('k', 'v1')
    expect(await read(b.cache, 'k')).toEqual({ value: 'v1', layer: 'redis' })
    await a.cache.set('k', 'v2')
    // Once b had a's message, a had it too (one channel): it kept its own fresh entry.
    await until(async () => (await b.cache.get('k')) === 'v2', 'b sees v2')
    await sleep(20)
    expect(await read(a.cache, 'k')).toEqual({ value: 'v2', layer: 'memory' })
  })

  it('acknowledged: once the call resolves, the other instance never serves the old value', async () => {
    const { a, b } = await pair()
    for (let round = 0; round < 5; round++) {
      const key = `k${round}`
      await b.cache.wrap(key, async () => 'old', { tags: ['t'] })
      expect(await read(b.cache, key)).toEqual({ value: 'old', layer: 'memory' })
      await a.cache.invalidateTags(['t'], { acknowledge: true })
      expect(await b.cache.get(key)).toBeUndefined() // no poll: at once

      await b.cache.wrap(key, async () => 'old2')
      await a.cache.delete(key, { acknowledge: true })
      expect(await b.cache.get(key)).toBeUndefined()

      await b.cache.wrap(key, async () => 'old3')
      await a.cache.clear({ acknowledge: true })
      expect(await b.cache.get(key)).toBeUndefined()
    }
    expect(a.errors).toEqual([])
  })

  it('acknowledged: an instance that never answers makes the call reject with E_TIMEOUT naming how many', async () => {
    const { a, b } = await pair()
    const silent = await rawClient()
    await silent.subscribe(a.bus.channel, () => {}) // counted by PUBSUB NUMSUB, never answers
    await b.cache.wrap('k', async () => 'old', { tags: ['t'] })
    const started = performance.now()
    const error = await a.cache
      .invalidateTags(['t'], { acknowledge: { timeout: '300ms' } })
      .catch((e: unknown) => e)
    const elapsed = performance.now() - started
    expect(error).toBeInstanceOf(CacheError)
    expect((error as CacheError).code).toBe('E_TIMEOUT')
    expect((error as CacheError).message).toMatch(/1 of 2 other instances/)
    expect(elapsed).toBeGreaterThanOrEqual(290)
    expect(elapsed).toBeLessThan(1_000)
    // The instance that did answer applied it all the same.
    expect(await b.cache.get('k')).toBeUndefined()
  })

  it('memory-only instances keep tag state each, and stay coherent for tags (expire and stale)', async () => {
    const { a, b } = await pair({ l2: false })
    await a.cache.wrap('k', async () => 'a', { tags: ['t'] })
    await b.cache.wrap('k', async () => 'b', { tags: ['t'] })
    await a.cache.invalidateTags(['t'])
    await until(async () => (await b.cache.get('k')) === undefined, 'b drops k (expire)')
    expect(await a.cache.get('k')).toBeUndefined()

    await b.cache.wrap('s', async () => 'b', { tags: ['u'] })
    const stale: string[] = []
    b.cache.on('stale', (event) => stale.push(event.key))
    await a.cache.invalidateTags(['u'], { mode: 'stale' })
    await until(async () => {
      const value = await b.cache.get('s')
      return value === 'b' && stale.includes('s')
    }, 'b serves s as stale')

    await b.cache.wrap('k2', async () => 'b', { tags: ['v'] })
    await a.cache.invalidateTags(['v'], { acknowledge: true })
    expect(await b.cache.get('k2')).toBeUndefined()

    await b.cache.set('k3', 'b')
    await a.cache.delete('k3')
    await until(async () => (await b.cache.get('k3')) === undefined, 'b drops k3 (delete)')
    expect(a.errors).toEqual([])
    expect(b.errors).toEqual([])
  })

  it('malformed bytes on the channel are dropped with an error event, and nothing breaks', async () => {
    const { a, b } = await pair()
    const raw = await rawClient()
    const garbage = [
      Buffer.from([0xc1]), // never used in msgpack
      Buffer.alloc(0),
      Buffer.from(pack({ not: 'an array' })),
      Buffer.from(pack(['someone', [[9, 'unknown kind']]])),
      Buffer.from(pack(['someone', [[0, [1, 2]]]])), // keys that are not strings
      Buffer.from(pack(['someone', [[1, ['t'], [1], 0]]])), // one version for one tag
    ]
    for (const bytes of garbage) await raw.publish(a.bus.channel, bytes)
    await until(() => b.errors.length >= garbage.length, 'an error per malformed message')
    for (const { error, operation } of b.errors) {
      expect(operation).toBe('bus')
      expect((error as CacheError).code).toBe('E_CODEC')
    }
    // Still coherent, still connected.
    await b.cache.set('k', 'old')
    expect(await read(b.cache, 'k')).toEqual({ value: 'old', layer: 'memory' })
    await a.cache.delete('k', { acknowledge: true })
    expect(await b.cache.get('k')).toBeUndefined()
    expect(b.bus.connected).toBe(true)
  })
})

describe('redisBus: recovery', () => {
  it('a subscriber connection killed (CLIENT KILL): down, then up, and what was missed is never served', async () => {
    const namespace = ns()
    const a = await instance(namespace)
    await until(() => a.bus.connected, 'a connected')
    const before = await connectionsNamed(`layercache-bus:${namespace}`)
    const b = await instance(namespace)
    await until(() => b.bus.connected, 'b connected')
    const [id] = (await connectionsNamed(`layercache-bus:${namespace}`)).filter(
      (found) => !before.includes(found),
    )
    expect(id).toBeDefined()

    const events: string[] = []
    b.bus.subscriber.on('error', () => events.push('error'))
    b.bus.subscriber.on('ready', () => events.push(`ready:${b.bus.connected}`))
    await b.cache.set('k', 'old')
    expect(await read(b.cache, 'k')).toEqual({ value: 'old', layer: 'memory' })

    // node-redis reconnects at once: keep b out (no room for another client) while a deletes.
    const control = await rawClient()
    cleanups.push(() => server.command('CONFIG', 'SET', 'maxclients', '10000'))
    const info = String(await control.sendCommand(['INFO', 'clients']))
    const clients = Number(/connected_clients:(\d+)/.exec(info)![1])
    await control.sendCommand(['CONFIG', 'SET', 'maxclients', String(clients - 1)])
    await control.sendCommand(['CLIENT', 'KILL', 'ID', id!])
    await until(() => !b.bus.connected, 'b down')
    await a.cache.delete('k') // lost for b: it is not subscribed
    await sleep(100)
    expect(events.filter((event) => event.startsWith('ready'))).toEqual([]) // still kept out
    expect(await read(b.cache, 'k')).toEqual({ value: 'old', layer: 'memory' }) // trusted for busTrust
    await control.sendCommand(['CONFIG', 'SET', 'maxclients', '10000'])
    await until(() => b.bus.connected, 'b up again', 5_000)
    expect(events[0]).toBe('error')
    expect(events).toContain('ready:true') // up as soon as it was resubscribed
    expect(await b.cache.get('k')).toBeUndefined() // everything it held was dropped
    // And it listens again.
    await b.cache.set('k2', 'old')
    await a.cache.delete('k2', { acknowledge: true })
    expect(await b.cache.get('k2')).toBeUndefined()
    expect(b.errors.map((event) => event.operation)).toContain('bus')
  })

  // a reconnects only every second, b every 20 ms: b is back (and warm again) before a sends.
  it.each([
    ['its keys', 10_000],
    ['one clear, when more than maxQueue keys waited', 2],
  ])(
    'Redis killed and restarted: publishes queued meanwhile are sent (%s)',
    async (_, maxQueue) => {
      const namespace = ns()
      const slow = await rawClient({
        disableOfflineQueue: true,
        socket: { reconnectStrategy: () => 1_000 },
      })
      const fast = await rawClient({ socket: { reconnectStrategy: () => 20 } })
      const a = await instance(namespace, { bus: { client: slow, maxQueue } })
      const b = await instance(namespace, { bus: { client: fast } })
      await until(() => a.bus.connected && b.bus.connected, 'both connected')

      await server.kill()
      await until(() => !a.bus.connected && !b.bus.connected, 'both down')
      await a.cache.delete('k') // Redis is down: fails open, and its message is queued
      await a.cache.deleteMany(['x', 'y'])
      await server.restart()
      await until(() => b.bus.connected, 'b up again')
      expect(a.bus.connected).toBe(false)
      await b.cache.set('k', 'b')
      await b.cache.set('other', 'b')
      expect(await read(b.cache, 'k')).toEqual({ value: 'b', layer: 'memory' })

      // a comes back, sends what it queued: b drops k from its memory layer.
      await until(async () => (await read(b.cache, 'k')).layer !== 'memory', 'b drops k', 5_000)
      expect(a.bus.connected).toBe(true)
      const other = await read(b.cache, 'other')
      if (maxQueue === 2)
        expect(other.layer).not.toBe('memory') // a clear: everything dropped
      else expect(other).toEqual({ value: 'b', layer: 'memory' }) // only the queued keys
      // The given clients were never closed by the buses.
      await Promise.all(caches.map((cache) => cache.close()))
      expect(slow.isOpen).toBe(true)
      expect(fast.isOpen).toBe(true)
    },
  )

  it('Redis frozen (SIGSTOP): the heartbeat finds the bus down within heartbeat + timeout, and up after resume', async () => {
    const { a } = await pair({ l2: false, bus: { url: server.url, heartbeat: '100ms' } })
    server.freeze()
    const down = await until(() => !a.bus.connected, 'down while frozen', 2_000)
    expect(down).toBeLessThan(100 + 100 + 300) // heartbeat + timeout, with slack
    await sleep(200)
    expect(a.bus.connected).toBe(false) // stays down: no flapping
    server.resume()
    await until(() => a.bus.connected, 'up after resume', 2_000)
    await a.cache.set('k', 'v')
    expect(a.errors.map((event) => (event.error as CacheError).code)).toContain('E_TIMEOUT')
  })
})

describe('redisBus: readiness, and acknowledged calls while down', () => {
  it('ready() resolves once connected, and rejects with E_TIMEOUT while Redis is frozen', async () => {
    const namespace = ns()
    const a = await instance(namespace, { l2: false, bus: { url: server.url, heartbeat: '100ms' } })
    await a.bus.ready()
    expect(a.bus.connected).toBe(true)
    server.freeze()
    await until(() => !a.bus.connected, 'down while frozen', 2_000)
    const error = await a.bus.ready('150ms').then(
      () => undefined,
      (e: unknown) => e as CacheError,
    )
    expect(error?.code).toBe('E_TIMEOUT')
    server.resume()
    await a.bus.ready('2s')
  })

  it('an acknowledged call while the bus is down is refused, and its message is queued and sent once back', async () => {
    const { a, b } = await pair({ l2: false, bus: { url: server.url, heartbeat: '100ms' } })
    // A listener of the test's own sees what a sends once Redis answers again.
    const heard: unknown[] = []
    const listener = await rawClient()
    await listener.subscribe(a.bus.channel, (bytes: Buffer) => heard.push(unpack(bytes)), true)
    await a.cache.set('k', 'old')
    await b.cache.set('k', 'old')
    server.freeze()
    await until(() => !a.bus.connected, 'down while frozen', 2_000)
    const error = await a.cache.delete('k', { acknowledge: true }).then(
      () => undefined,
      (e: unknown) => e as CacheError,
    )
    expect(error?.code).toBe('E_LAYER')
    expect(error?.message).toContain('queued')
    const before = heard.length
    server.resume()
    await until(() => a.bus.connected && b.bus.connected, 'both up', 3_000)
    // The refused call's delete of 'k' went out once the bus was back: [sender, [[0, keys]]].
    await until(
      () =>
        heard
          .slice(before)
          .some((payload) =>
            ((payload as [string, unknown[][]])[1] ?? []).some(
              (message) => message[0] === 0 && (message[1] as string[]).includes('k'),
            ),
          ),
      'the queued delete was sent',
      3_000,
    )
    expect((await read(b.cache, 'k')).value).toBeUndefined()
  })
})

describe('redisBus: options and lifecycle', () => {
  it('rejects bad options with E_INVALID_OPTION naming the option', () => {
    const url = 'redis://127.0.0.1:1'
    const cases: [unknown, RegExp][] = [
      [{}, /`redisBus` needs exactly one of `url` or `client`/],
      [{ url, client: {} }, /`redisBus` needs exactly one/],
      [{ url: 'http://x' }, /`redisBus.url`/],
      [{ url: 42 }, /`redisBus.url`/],
      [{ client: { get: () => 1 } }, /`redisBus.client`/],
      [{ url, channel: '' }, /`redisBus.channel`/],
      [{ url, timeout: 0 }, /`redisBus.timeout`/],
      [{ url, timeout: 'soon' }, /`redisBus.timeout`/],
      [{ url, heartbeat: -1 }, /`redisBus.heartbeat`/],
      [{ url, maxQueue: 0 }, /`redisBus.maxQueue`/],
      [{ url, maxQueue: 1.5 }, /`redisBus.maxQueue`/],
      [{ url, chanel: 'x' }, /`redisBus options.chanel`/],
      [null, /`redisBus options`/],
    ]
    for (const [options, message] of cases) {
      let error: unknown
      try {
        redisBus(options as Parameters<typeof redisBus>[0])
      } catch (e) {
        error = e
      }
      expect(error, JSON.stringify(options)).toBeInstanceOf(CacheError)
      expect((error as CacheError).code).toBe('E_INVALID_OPTION')
      expect((error as CacheError).message).toMatch(message)
    }
  })

  it('serves one cache: a second createCache with the same bus is refused', async () => {
    const bus = redisBus({ url: server.url })
    caches.push(createCache({ namespace: ns(), bus }))
    expect(() => createCache({ namespace: ns(), bus })).toThrowError(
      expect.objectContaining({ code: 'E_INVALID_OPTION' }),
    )
  })

  it('close() stops the heartbeat and closes its connections; safe twice', async () => {
    const namespace = ns()
    const { cache, bus } = await instance(namespace, {
      l2: false,
      bus: { url: server.url, heartbeat: '20ms' },
    })
    await until(() => bus.connected, 'connected')
    expect(await connectionsNamed(`layercache-bus:${namespace}`)).toHaveLength(1)
    await cache.close()
    await bus.close()
    expect(bus.connected).toBe(false)
    expect(bus.client.isOpen).toBe(false)
    expect(bus.subscriber.isOpen).toBe(false)
    await until(
      async () => (await connectionsNamed(`layercache-bus:${namespace}`)).length === 0,
      'the subscriber connection is gone',
    )
    await resetCommandStats(server)
    await sleep(100)
    expect((await commandCalls(server)).ping).toBeUndefined()
  })

  it('sends what the cache published last before closing', async () => {
    const { a, b } = await pair()
    await b.cache.set('k', 'old')
    expect(await read(b.cache, 'k')).toEqual({ value: 'old', layer: 'memory' })
    await a.cache.delete('k')
    await a.cache.close() // in the same turn as the delete's message
    await until(async () => (await b.cache.get('k')) === undefined, 'b drops k')
  })
})
