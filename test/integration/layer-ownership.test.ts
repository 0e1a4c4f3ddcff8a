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

describe('connecting', () => {
  it('rejects connect() within connectTimeout when nothing answers, and the cache still serves', async () => {
    const closed = await startRedis({ control: true })
    const url = closed.url
    await closed.stop() // a loopback port where nothing listens
    const layer = redisLayer({ url, connectTimeout: '200ms', timeout: '50ms' })
    const cache = createCache({ layers: [memoryLayer(), layer] })
    await expect(layer.connect()).rejects.toThrow(/did not connect within 200ms|ECONNREFUSED/)
    expect(await cache.wrap('k', async () => 'from factory')).toBe('from factory')
    await cache.close()
    expect(layer.client.isOpen).toBe(false)
  })
})

describe('a remote layer belongs to one cache', () => {
  it('refuses to join a second cache, which would move its keys into another namespace', () => {
    const layer = redisLayer({ url: server.url })
    createCache({ namespace: 'shop', layers: [layer] })
    expect(() => createCache({ namespace: 'blog', layers: [layer] })).toThrow(
      /already belongs to another cache/,
    )
    layer.client.destroy()
  })
})

describe('a keyv store that cannot list its keys', () => {
  it('reports clear() as unsupported and keeps serving, instead of distrusting every key', async () => {
    const map = new Map<string, unknown>()
    // A minimal keyv store adapter with no iterator.
    const store = {
      opts: {},
      namespace: undefined,
      get: async (key: string) => map.get(key),
      set: async (key: string, value: unknown) => {
        map.set(key, value)
        return true
      },
      delete: async (key: string) => map.delete(key),
      clear: async () => map.clear(),
      on: () => store,
    }
    const keyv = new Keyv({ store: store as never })
    expect(typeof keyv.iterator).not.toBe('function')
    const layer = keyvLayer(keyv, { name: 'flat' })
    const cache = createCache({ layers: [layer] })
    const errors: string[] = []
    cache.on('error', (e) => errors.push((e.error as Error).message))
    await cache.set('k', 'v')
    await cache.clear()
    expect(errors).toEqual([
      'layercache: layer "flat" cannot clear one namespace: its store cannot list keys',
    ])
    expect(layer.health().dirtyKeys).toBe(0)
    await cache.set('k2', 'v2')
    expect(await cache.get('k2')).toBe('v2')
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
