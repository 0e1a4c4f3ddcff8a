import KeyvPostgres from '@keyv/postgres'
import Keyv from 'keyv'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type CacheError, createCache, type Layer, memoryLayer } from '../../src/index.js'
import { keyvLayer, redisLayer } from '../../src/redis/index.js'
import { runLayerSuite } from '../../src/testing/index.js'
import { postgresUrl, requirePostgres, uniqueTable } from '../helpers/postgres.js'
import { type RedisServer, startRedis } from '../helpers/redis-server.js'

const table = uniqueTable('keyv')
const keyvs: Keyv[] = []
let server: RedisServer

function sqlKeyv(): Keyv {
  const keyv = new Keyv({ store: new KeyvPostgres({ uri: postgresUrl, table }) })
  keyvs.push(keyv)
  return keyv
}

beforeAll(async () => {
  await requirePostgres()
  server = await startRedis()
})
afterAll(async () => {
  const keyv = sqlKeyv()
  await (keyv.store as KeyvPostgres).query(`DROP TABLE IF EXISTS ${table}`)
  // @keyv/postgres shares one pool per URI between its instances: end it once.
  await keyv.disconnect()
  await server.stop()
})

runLayerSuite({
  name: 'keyv (@keyv/postgres)',
  create: () => keyvLayer(sqlKeyv(), { name: 'sql', timeout: '5s' }) as Layer,
  destroy: () => {},
  describe,
  it,
})

describe('memory → Redis → Postgres', () => {
  it('serves a miss of the first two layers from the third and backfills both', async () => {
    const memory = memoryLayer()
    const redis = redisLayer({ url: server.url, timeout: '2s' })
    const sql = keyvLayer(sqlKeyv(), { name: 'sql', timeout: '5s' })
    await redis.connect()
    const namespace = `three${process.pid}`
    const cache = createCache({ namespace, layers: [memory, redis, sql] })
    const served: string[] = []
    cache.on('hit', (e) => served.push(e.layer))
    const errors: string[] = []
    cache.on('error', (e) => errors.push((e.error as CacheError).message))

    await cache.set('report', { total: 42n, at: new Date(0) }, { ttl: '1h' })
    memory.delete('report')
    await redis.delete('report')
    expect(await cache.get('report')).toEqual({ total: 42n, at: new Date(0) })
    expect(served).toEqual(['sql'])
    expect(memory.get('report')?.value).toEqual({ total: 42n, at: new Date(0) })
    await cache.close() // waits for the background backfill of Redis
    expect(Number(await server.command('EXISTS', `${namespace}:report`))).toBe(1)
    const ttl = Number(await server.command('PTTL', `${namespace}:report`))
    expect(ttl).toBeGreaterThan(3_500_000)
    expect(errors).toEqual([])
  })
})
