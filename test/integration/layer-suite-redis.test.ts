import { afterAll, beforeAll, describe, it } from 'vitest'
import type { Layer } from '../../src/index.js'
import { redisLayer } from '../../src/redis/index.js'
import { runLayerSuite } from '../../src/testing/index.js'
import { type RedisServer, startRedis } from '../helpers/redis-server.js'

let server: RedisServer
beforeAll(async () => {
  server = await startRedis()
})
afterAll(async () => {
  await server.stop()
})

runLayerSuite({
  name: 'redis',
  create: async () => {
    const layer = redisLayer({ url: server.url, timeout: '2s' })
    await layer.connect()
    return layer as Layer
  },
  describe,
  it,
})

runLayerSuite({
  name: 'redis (compressed, with a key prefix)',
  create: async () => {
    const layer = redisLayer({
      url: server.url,
      timeout: '2s',
      prefix: 'app{1}:',
      compression: { threshold: '1kb' },
    })
    await layer.connect()
    return layer as Layer
  },
  describe,
  it,
})
