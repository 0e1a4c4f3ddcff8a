import { createClient } from '@keyv/redis'
import Keyv from 'keyv'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createCache, memoryLayer } from '../../src/index.js'
import { keyvLayer, type RedisClient, redisLayer } from '../../src/redis/index.js'
import { type RedisServer, startRedis } from '../helpers/redis-server.js'

let server: RedisServer
beforeAll(async () => {
  server = await startRedis()
})
afterAll(async () => {
  await server.stop()
})

describe('a layer closes only what it created', () => {
  it('closes the client it created from a URL', async () => {
    const layer = redisLayer({ url: server.url })
    await layer.connect()
    const cache = createCache({ layers: [memoryLayer(), layer] })
    await cache.set('k', 1)
    await cache.close()
    expect(layer.client.isOpen).toBe(false)
  })

  it('leaves a client it was given open', async () => {
    const client = createClient({ url: server.url }) as unknown as RedisClient
    await client.connect()
    const cache = createCache({
      namespace: 'given',
      layers: [memoryLayer(), redisLayer({ client })],
    })
    await cache.set('k', 'v')
    await cache.close()
    expect(client.isOpen).toBe(true)
    expect(await client.exists('given:k')).toBe(1)
    client.destroy()
  })

  it('never disconnects a Keyv it was given', async () => {
    const keyv = new Keyv()
    let disconnected = false
    keyv.disconnect = async () => {
      disconnected = true
    }
    const cache = createCache({ layers: [memoryLayer(), keyvLayer(keyv)] })
    await cache.set('k', 1)
    await cache.close()
    expect(disconnected).toBe(false)
  })
})

describe('keyv store failures reach the cache', () => {
  it('counts a failing store as a layer error instead of a silent miss', async () => {
    const store = new Map()
    const keyv = new Keyv({ store })
    const cache = createCache({ layers: [memoryLayer(), keyvLayer(keyv, { name: 'sql' })] })
    const errors: string[] = []
    cache.on('error', (e) => errors.push(`${e.operation} ${e.layer}`))
    store.get = () => {
      throw new Error('store down')
    }
    expect(await cache.wrap('k', async () => 'from factory')).toBe('from factory')
    expect(errors).toContain('get sql')
    expect(cache.stats().layers.sql?.errors).toBeGreaterThan(0)
  })
})
