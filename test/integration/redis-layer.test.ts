import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { type Cache, CacheError, createCache, memoryLayer } from '../../src/index.js'
import { type RedisLayer, redisLayer } from '../../src/redis/index.js'
import { type RedisServer, startRedis } from '../helpers/redis-server.js'
import { commandCalls, resetCommandStats } from '../helpers/redis-stats.js'

let server: RedisServer
const open: Cache[] = []
let run = 0

beforeAll(async () => {
  server = await startRedis({ control: true })
})
afterEach(async () => {
  await Promise.all(open.splice(0).map((cache) => cache.close()))
})
afterAll(async () => {
  await server.stop()
})

/** A cache over memory + Redis, in a namespace of this test; `l1: false` makes it Redis-only. */
async function instance(namespace: string, options: { l1?: boolean; maxValueBytes?: string } = {}) {
  const redis = redisLayer({ url: server.url, timeout: '2s', maxValueBytes: options.maxValueBytes })
  await redis.connect()
  const layers = options.l1 === false ? [redis] : [memoryLayer(), redis]
  const cache = createCache({ namespace, layers })
  open.push(cache)
  return { cache, redis: redis as RedisLayer }
}

const ns = () => `t${process.pid}-${run++}`

describe('redis layer through the cache', () => {
  it('keeps every type when read back from Redis by another instance', async () => {
    const namespace = ns()
    const writer = await instance(namespace)
    const reader = await instance(namespace, { l1: false })
    const value = {
      date: new Date('2024-02-29T12:00:00.123Z'),
      map: new Map<unknown, unknown>([
        [1, 'one'],
        ['two', { n: 2 }],
      ]),
      object: { a: 1 },
      set: new Set([1, 'a']),
      big: -(2n ** 90n),
      bytes: new Uint8Array([1, 2, 3]),
      floats: new Float32Array([0.5]),
      buffer: Buffer.from('hello'),
      nothing: undefined,
      none: null,
      nested: [{ when: new Date(0), tags: new Set(['x']) }],
    }
    await writer.cache.set('typed', value)
    const back = await reader.cache.get<typeof value>('typed')
    expect(back).toEqual(value)
    expect(back?.map).toBeInstanceOf(Map)
    expect(back?.object).not.toBeInstanceOf(Map)
    expect(back?.set).toBeInstanceOf(Set)
    expect(back?.date).toBeInstanceOf(Date)
    expect(typeof back?.big).toBe('bigint')
    expect(back?.floats).toBeInstanceOf(Float32Array)
    expect('nothing' in (back ?? {})).toBe(true)
    await writer.cache.set('undefined', undefined)
    expect(await reader.cache.has('undefined')).toBe(true)
    await writer.cache.set('null', null)
    expect(await reader.cache.get('null')).toBeNull()
  })

  it('fills L1 from a Redis hit with the remaining TTL', async () => {
    const namespace = ns()
    const writer = await instance(namespace)
    await writer.cache.set('k', 'v', { ttl: '1h' })
    const reader = await instance(namespace)
    expect(await reader.cache.get('k')).toBe('v')
    await resetCommandStats(server)
    expect(await reader.cache.get('k')).toBe('v')
    expect((await commandCalls(server)).get).toBeUndefined() // served by L1
    const ttl = Number(await server.command('PTTL', `${namespace}:k`))
    expect(ttl).toBeGreaterThan(3_590_000)
  })

  it('reads the keys L1 lacks with one MGET, and backfills them in one pipeline', async () => {
    const namespace = ns()
    const writer = await instance(namespace)
    const keys = Array.from({ length: 100 }, (_, i) => `k${i}`)
    for (const key of keys) await writer.cache.set(key, key)
    const reader = await instance(namespace)
    await reader.cache.get('k0') // now in L1
    await resetCommandStats(server)
    const values = await reader.cache.getMany([...keys, 'missing'])
    expect(values).toEqual([...keys, undefined])
    const calls = await commandCalls(server)
    expect(calls.mget).toBe(1)
    expect(calls.get).toBeUndefined()
    await resetCommandStats(server)
    await reader.cache.deleteMany(keys)
    expect((await commandCalls(server)).unlink).toBe(1)
    expect(await writer.cache.getMany(['k1', 'k2'])).toEqual(['k1', 'k2']) // writer's L1 is its own
    const redisOnly = await instance(namespace, { l1: false })
    expect(await redisOnly.cache.getMany(['k1', 'k2'])).toEqual([undefined, undefined])
  })

  it('backfills a Redis layer above a lower layer with one pipelined write', async () => {
    const namespace = ns()
    const upper = redisLayer({ url: server.url, name: 'upper', timeout: '2s' })
    const lower = redisLayer({ url: server.url, name: 'lower', prefix: 'low:', timeout: '2s' })
    await Promise.all([upper.connect(), lower.connect()])
    const cache = createCache({ namespace, layers: [upper, lower] })
    open.push(cache)
    for (let i = 0; i < 10; i++) await cache.set(`k${i}`, i)
    await upper.deleteMany(Array.from({ length: 10 }, (_, i) => `k${i}`))
    await resetCommandStats(server)
    await cache.getMany(Array.from({ length: 10 }, (_, i) => `k${i}`))
    await cache.close()
    const calls = await commandCalls(server)
    expect(calls.mget).toBe(2)
    expect(calls.set).toBe(10) // ten SETs in one pipeline: one round trip
    expect(Number(await server.command('EXISTS', `${namespace}:k3`))).toBe(1)
  })

  it('clears only its own namespace, by SCAN and UNLINK, never KEYS or FLUSHDB', async () => {
    const mine = ns()
    const theirs = ns()
    const a = await instance(mine)
    const b = await instance(theirs)
    for (let i = 0; i < 1_200; i++) await a.cache.set(`k${i}`, i)
    await b.cache.set('k1', 'kept')
    await server.command('SET', `${mine}x:foreign`, 'kept too') // shares a prefix, not the namespace
    await resetCommandStats(server)
    await a.cache.clear()
    const calls = await commandCalls(server)
    expect(calls.scan).toBeGreaterThan(0)
    expect(calls.unlink).toBeGreaterThan(1) // in batches
    expect(calls.keys).toBeUndefined()
    expect(calls.flushdb).toBeUndefined()
    expect(calls.flushall).toBeUndefined()
    expect(await a.cache.get('k5')).toBeUndefined()
    const bRedisOnly = await instance(theirs, { l1: false })
    expect(await bRedisOnly.cache.get('k1')).toBe('kept')
    expect(await server.command('GET', `${mine}x:foreign`)).toBe('kept too')
  })
})

describe('compression', () => {
  it('compresses above the threshold, and a layer without compression still reads it', async () => {
    const namespace = ns()
    const writer = redisLayer({ url: server.url, timeout: '2s', compression: { threshold: '1kb' } })
    const reader = redisLayer({ url: server.url, timeout: '2s' })
    await Promise.all([writer.connect(), reader.connect()])
    const a = createCache({ namespace, layers: [writer] })
    const b = createCache({ namespace, layers: [reader] })
    open.push(a, b)
    const text = 'compressible '.repeat(1_000)
    await a.set('big', text)
    const stored = await writer.client.strLen(`${namespace}:big`)
    expect(stored).toBeLessThan(text.length / 10)
    expect(await b.get('big')).toBe(text)
  })
})

describe('values Redis cannot hold', () => {
  it.each([
    ['a function', { handler: () => 1 }, 'contains a function'],
    ['a symbol', { s: Symbol('x') }, 'msgpack cannot hold'],
    [
      'a cycle',
      (() => {
        const o: Record<string, unknown> = {}
        o.self = o
        return o
      })(),
      'cyclic',
    ],
  ])(
    'refuses %s at set and wrap with E_CODEC naming the key, and keeps the stored value',
    async (_, value, why) => {
      const { cache } = await instance(ns())
      await cache.set('k', 'kept')
      for (const attempt of [
        () => cache.set('k', value),
        () => cache.wrap('w', async () => value),
      ]) {
        const error = await attempt().catch((e: unknown) => e)
        expect(error).toBeInstanceOf(CacheError)
        expect((error as CacheError).code).toBe('E_CODEC')
        expect((error as CacheError).message).toMatch(/key "(k|w)"/)
        expect((error as CacheError).message).toContain(why)
      }
      expect(await cache.get('k')).toBe('kept')
      expect(await cache.has('w')).toBe(false)
    },
  )

  it('refuses a value above maxValueBytes with E_VALUE_TOO_LARGE, keeping the stored value', async () => {
    const { cache } = await instance(ns(), { maxValueBytes: '1kb' })
    await cache.set('k', 'small')
    await expect(cache.set('k', 'x'.repeat(5_000))).rejects.toMatchObject({
      code: 'E_VALUE_TOO_LARGE',
      message: expect.stringMatching(/key "k" is \d+ bytes encoded, above maxValueBytes \(1024\)/),
    })
    expect(await cache.get('k')).toBe('small')
  })
})

describe('bytes that do not decode', () => {
  it.each([
    ['garbage', () => Buffer.from('definitely not msgpack')],
    ['a JSON string', () => Buffer.from(JSON.stringify({ value: 1 }))],
    ['another format version', () => Buffer.from([0x6c, 0x63, 99, 0, 0x90])],
    ['unknown flags', () => Buffer.from([0x6c, 0x63, 1, 0x80, 0x90])],
    ['truncated bytes', () => Buffer.from([0x6c, 0x63, 1, 0, 0x94, 0xa1])],
    ['an empty value', () => Buffer.alloc(0)],
  ])('are a miss with an E_CODEC error event for %s, and the key is deleted', async (_, bytes) => {
    const namespace = ns()
    const { cache, redis } = await instance(namespace, { l1: false })
    const errors: { code?: string; key?: string; layer?: string }[] = []
    cache.on('error', (e) =>
      errors.push({ code: (e.error as CacheError).code, key: e.key, layer: e.layer }),
    )
    await redis.client.set(`${namespace}:bad`, bytes())
    expect(await cache.get('bad')).toBeUndefined()
    expect(errors).toEqual([{ code: 'E_CODEC', key: 'bad', layer: 'redis' }])
    await cache.close()
    expect(Number(await server.command('EXISTS', `${namespace}:bad`))).toBe(0)
  })

  it('are a miss within getMany too, and the next write replaces them', async () => {
    const namespace = ns()
    const { cache, redis } = await instance(namespace, { l1: false })
    const errors: string[] = []
    cache.on('error', (e) => errors.push(`${(e.error as CacheError).code} ${e.key}`))
    await cache.set('good', 1)
    await redis.client.set(`${namespace}:bad`, 'garbage')
    expect(await cache.getMany(['good', 'bad'])).toEqual([1, undefined])
    expect(errors).toEqual(['E_CODEC bad'])
    expect(await cache.wrap('bad', async () => 'recomputed')).toBe('recomputed')
    expect(await cache.get('bad')).toBe('recomputed')
  })
})
