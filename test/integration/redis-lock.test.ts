import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { LockStore } from '../../src/core/lock.js'
import { type Cache, CacheError, createCache } from '../../src/index.js'
import { type RedisLayer, redisLayer } from '../../src/redis/index.js'
import { type RedisServer, startRedis } from '../helpers/redis-server.js'

// Deliberately loose: these tell "rejected within the layer's timeout" from "hung until Redis
// came back", nothing finer (speed is measured in bench/).
const FAULT_TIMEOUT_MS = 100
const SLACK_MS = 400
const LONG = 60_000

let server: RedisServer
let caches: Cache[] = []
const servers: RedisServer[] = []
let run = 0

beforeAll(async () => {
  server = await startRedis({ control: true })
})
afterEach(async () => {
  for (const s of [server, ...servers]) if (s.pid !== undefined) s.resume()
  await Promise.all(caches.map((cache) => cache.close()))
  caches = []
  await Promise.all(servers.splice(0).map((s) => s.stop()))
})
afterAll(async () => {
  await server.stop()
})

const ns = () => `locks${process.pid}-${run++}`
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

interface Instance {
  cache: Cache
  layer: RedisLayer
  locks: LockStore
}

/** A cache of `namespace` whose only layer is its own Redis layer, bound by createCache. */
async function instance(
  namespace: string,
  options: { url?: string; timeout?: number | string; prefix?: string } = {},
): Promise<Instance> {
  const layer = redisLayer({
    url: options.url ?? server.url,
    timeout: options.timeout ?? '1s',
    prefix: options.prefix,
  })
  await layer.connect()
  const cache = createCache({ namespace, layers: [layer] })
  caches.push(cache)
  return { cache, layer, locks: layer.lockStore() }
}

/** Polls `check` every 10 ms until it is true, for at most `limitMs`. */
async function eventually(check: () => Promise<boolean>, limitMs = 2_000): Promise<boolean> {
  const deadline = performance.now() + limitMs
  while (performance.now() < deadline) {
    if (await check()) return true
    await sleep(10)
  }
  return check()
}

/** How long `call` took to settle, and the error it rejected with (if any). */
async function timed(call: () => Promise<unknown>) {
  const started = performance.now()
  try {
    await call()
    return { ms: performance.now() - started, error: undefined as unknown }
  } catch (error) {
    return { ms: performance.now() - started, error }
  }
}

describe('RedisLockStore', () => {
  it('is one object per layer, and keeps leases at <prefix><namespace>#l:<key>', async () => {
    const namespace = ns()
    const a = await instance(namespace)
    expect(a.layer.lockStore()).toBe(a.locks)
    expect(await a.locks.acquire('report', 'token-a', LONG)).toBe(true)
    expect(await server.command('GET', `${namespace}#l:report`)).toBe('token-a')

    const prefixed = await instance(namespace, { prefix: 'app:' })
    expect(await prefixed.locks.acquire('report', 'token-p', LONG)).toBe(true) // another prefix
    expect(await server.command('GET', `app:${namespace}#l:report`)).toBe('token-p')
  })

  it('acquire is exclusive across instances sharing a namespace', async () => {
    const namespace = ns()
    const a = await instance(namespace)
    const b = await instance(namespace)
    expect(await a.locks.acquire('k', 'ta', LONG)).toBe(true)
    expect(await b.locks.acquire('k', 'tb', LONG)).toBe(false)
    expect(await a.locks.acquire('k', 'ta2', LONG)).toBe(false) // not re-entrant either
    expect(await server.command('GET', `${namespace}#l:k`)).toBe('ta')

    // A race of many contenders on a fresh key: exactly one wins.
    const attempts = Array.from({ length: 20 }, (_, i) =>
      (i % 2 === 0 ? a : b).locks.acquire('race', `t${i}`, LONG),
    )
    const won = (await Promise.all(attempts)).filter(Boolean)
    expect(won).toHaveLength(1)
  })

  it('release by a token that does not hold the lease does nothing', async () => {
    const namespace = ns()
    const a = await instance(namespace)
    const b = await instance(namespace)
    expect(await a.locks.acquire('k', 'ta', LONG)).toBe(true)
    await b.locks.release('k', 'tb')
    await a.locks.release('k', 'ta-other')
    await b.locks.release('never-taken', 'tb') // no lease at all: resolves, creates nothing
    expect(await b.locks.acquire('k', 'tb', LONG)).toBe(false)
    expect(await server.command('GET', `${namespace}#l:k`)).toBe('ta')
    expect(await server.command('EXISTS', `${namespace}#l:never-taken`)).toBe('0')
  })

  it('release by the holder frees the lease for another instance', async () => {
    const namespace = ns()
    const a = await instance(namespace)
    const b = await instance(namespace)
    expect(await a.locks.acquire('k', 'ta', LONG)).toBe(true)
    await a.locks.release('k', 'ta')
    expect(await server.command('EXISTS', `${namespace}#l:k`)).toBe('0')
    expect(await b.locks.acquire('k', 'tb', LONG)).toBe(true)
    await a.locks.release('k', 'ta') // released twice: the new holder keeps its lease
    expect(await server.command('GET', `${namespace}#l:k`)).toBe('tb')
  })

  it('extend by the holder renews the lease; by a stale token it returns false', async () => {
    const namespace = ns()
    const a = await instance(namespace)
    const b = await instance(namespace)
    expect(await a.locks.acquire('k', 'ta', 1_000)).toBe(true)
    expect(await a.locks.extend('k', 'ta', LONG)).toBe(true)
    const pttl = Number(await server.command('PTTL', `${namespace}#l:k`))
    expect(pttl).toBeGreaterThan(1_000)
    expect(pttl).toBeLessThanOrEqual(LONG)

    expect(await b.locks.extend('k', 'tb', 5)).toBe(false) // not the holder: nothing changes
    expect(Number(await server.command('PTTL', `${namespace}#l:k`))).toBeGreaterThan(1_000)
    expect(await server.command('GET', `${namespace}#l:k`)).toBe('ta')

    // The holder's lease is gone and someone else holds the key: the old token cannot extend it.
    await a.locks.release('k', 'ta')
    expect(await a.locks.extend('k', 'ta', LONG)).toBe(false) // nothing to extend
    expect(await b.locks.acquire('k', 'tb', 1_000)).toBe(true)
    expect(await a.locks.extend('k', 'ta', LONG)).toBe(false)
    expect(Number(await server.command('PTTL', `${namespace}#l:k`))).toBeLessThanOrEqual(1_000)
  })

  it('rounds the lease up to whole milliseconds, at least 1', async () => {
    const namespace = ns()
    const a = await instance(namespace)
    expect(await a.locks.acquire('k', 'ta', 1_500.2)).toBe(true)
    const pttl = Number(await server.command('PTTL', `${namespace}#l:k`))
    expect(pttl).toBeGreaterThan(1_000)
    expect(pttl).toBeLessThanOrEqual(1_501)
    // A lease of 0 (or less) still is a lease of 1 ms, not "no expiry" and not a Redis error.
    expect(await a.locks.acquire('tiny', 'ta', 0)).toBe(true)
    expect(await eventually(() => a.locks.acquire('tiny', 'tb', LONG))).toBe(true)
  })

  it('rejects a ttl that is not a finite number without touching Redis or the breaker', async () => {
    const a = await instance(ns())
    for (const ttl of [Number.NaN, Number.POSITIVE_INFINITY, '100' as unknown as number]) {
      const error = await a.locks.acquire('k', 't', ttl).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(CacheError)
      expect((error as CacheError).code).toBe('E_INVALID_OPTION')
      await expect(a.locks.extend('k', 't', ttl)).rejects.toBeInstanceOf(CacheError)
    }
    expect(a.layer.health().failures).toBe(0)
    expect(await a.locks.acquire('k', 't', LONG)).toBe(true)
  })

  it('a lease expires on its own', async () => {
    const namespace = ns()
    const a = await instance(namespace)
    const b = await instance(namespace)
    expect(await a.locks.acquire('k', 'ta', 80)).toBe(true)
    expect(await b.locks.acquire('k', 'tb', LONG)).toBe(false)
    expect(await eventually(() => b.locks.acquire('k', 'tb', LONG))).toBe(true)
    expect(await a.locks.extend('k', 'ta', LONG)).toBe(false) // the expired holder lost it
    await a.locks.release('k', 'ta')
    expect(await server.command('GET', `${namespace}#l:k`)).toBe('tb')
  })

  it('namespaces do not contend, and clear() leaves leases alone', async () => {
    const one = await instance(ns())
    const two = await instance(ns())
    expect(await one.locks.acquire('k', 't1', LONG)).toBe(true)
    expect(await two.locks.acquire('k', 't2', LONG)).toBe(true)
    await two.locks.release('k', 't1') // another namespace's token means nothing here
    expect(await two.locks.acquire('k', 't3', LONG)).toBe(false)

    await one.cache.set('k', 'value')
    await one.cache.set('other', 'value')
    await one.cache.clear()
    expect(await one.cache.get('k')).toBeUndefined()
    expect(await two.locks.acquire('k', 't3', LONG)).toBe(false)
    const again = await instance(one.cache.namespace)
    expect(await again.locks.acquire('k', 't4', LONG)).toBe(false) // still held after clear()
    await one.locks.release('k', 't1')
    expect(await again.locks.acquire('k', 't4', LONG)).toBe(true)
  })

  it('a lease does not collide with a cached value or a tag of the same name', async () => {
    const namespace = ns()
    const a = await instance(namespace)
    await a.cache.set('k', 'cached', { tags: ['k'] })
    await a.cache.invalidateTags(['k'])
    await a.cache.set('k', 'cached')
    expect(await a.locks.acquire('k', 'ta', LONG)).toBe(true)
    expect(await a.cache.get('k')).toBe('cached')
    await a.locks.release('k', 'ta')
    expect(await a.cache.get('k')).toBe('cached')
  })

  it('keys with glob characters and spaces are taken literally', async () => {
    const namespace = ns()
    const a = await instance(namespace)
    const b = await instance(namespace)
    const key = 'report *?[a-z]\\ x'
    const token = 'tok\'en "]] -- end'
    expect(await a.locks.acquire(key, token, LONG)).toBe(true)
    expect(await server.command('GET', `${namespace}#l:${key}`)).toBe(token)
    expect(await b.locks.acquire('report b x', 'tb', LONG)).toBe(true) // a glob match is another key
    expect(await b.locks.acquire('*', 'tb', LONG)).toBe(true)
    expect(await b.locks.acquire(key, 'tb', LONG)).toBe(false)
    await b.locks.release('*', 'tb')
    expect(await server.command('GET', `${namespace}#l:${key}`)).toBe(token)
    expect(await a.locks.extend(key, token, LONG)).toBe(true)
    await a.locks.release(key, token)
    expect(await b.locks.acquire(key, 'tb', LONG)).toBe(true)
  })
})

describe('RedisLockStore when Redis fails', () => {
  async function faulty() {
    const own = await startRedis({ control: true })
    servers.push(own)
    const namespace = ns()
    const a = await instance(namespace, { url: own.url, timeout: FAULT_TIMEOUT_MS })
    expect(await a.locks.acquire('held', 'ta', LONG)).toBe(true)
    return { own, a }
  }

  it('rejects within the layer timeout while redis-server is frozen', async () => {
    const { own, a } = await faulty()
    own.freeze()
    for (const call of [
      () => a.locks.acquire('k', 'ta', LONG),
      () => a.locks.extend('held', 'ta', LONG),
      () => a.locks.release('held', 'ta'),
    ]) {
      const result = await timed(call)
      expect(result.error).toBeInstanceOf(CacheError)
      expect(['E_TIMEOUT', 'E_CIRCUIT_OPEN']).toContain((result.error as CacheError).code)
      expect(result.ms).toBeLessThan(FAULT_TIMEOUT_MS + SLACK_MS)
    }
    own.resume()
    // Redis answers again; a call that timed out may still land once it does, but a lease it
    // takes always has its expiry (never one that would outlive a crashed holder).
    expect(await eventually(() => a.locks.acquire('after', 'ta', LONG))).toBe(true)
    expect(Number(await own.command('PTTL', `${a.cache.namespace}#l:k`))).not.toBe(-1)
  })

  it('rejects within the layer timeout once redis-server is killed', async () => {
    const { own, a } = await faulty()
    await own.kill()
    for (let i = 0; i < 6; i++) {
      const result = await timed(() => a.locks.acquire(`k${i}`, 'ta', LONG))
      expect(result.error).toBeDefined()
      expect(result.ms).toBeLessThan(FAULT_TIMEOUT_MS + SLACK_MS)
    }
    expect(a.layer.health().state).not.toBe('closed') // lock failures count towards the breaker
  })
})
