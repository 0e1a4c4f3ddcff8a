// Three layers: memory → Redis → Postgres (through keyv). A key missing from the first two is
// served by the third, which fills both again. Needs Redis and Postgres:
//   REDIS_URL=redis://127.0.0.1:6379 POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/test \
//     npx tsx examples/three-layers.ts
// In your application, import from 'layercache' and 'layercache/redis' instead.
import KeyvPostgres from '@keyv/postgres'
import Keyv from 'keyv'
import { createCache, memoryLayer } from '../src/index.js'
import { keyvLayer, redisLayer } from '../src/redis/index.js'

const redisUrl = process.env.REDIS_URL
const postgresUrl = process.env.POSTGRES_URL
if (!redisUrl || !postgresUrl) {
  console.error(
    'examples/three-layers.ts needs Redis and Postgres: set REDIS_URL and POSTGRES_URL, for example\n' +
      '  REDIS_URL=redis://127.0.0.1:6379 POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/test \\\n' +
      '    npx tsx examples/three-layers.ts',
  )
  process.exit(1)
}

const keyv = new Keyv({
  store: new KeyvPostgres({ uri: postgresUrl, table: 'layercache_example' }),
})
const memory = memoryLayer()
const redis = redisLayer({ url: redisUrl })
await redis.connect()
// A SQL round trip is slower than Redis, and the first one opens a connection: allow 1 s.
const postgres = keyvLayer(keyv, { name: 'postgres', timeout: '1s' })

const cache = createCache({
  namespace: 'three-layers-example',
  layers: [memory, redis, postgres],
  policies: {
    default: { ttl: '1h', layers: { memory: { ttl: '1m' }, redis: { ttl: '10m' } } },
  },
})
let servedBy = 'none'
cache.on('hit', ({ layer }) => {
  servedBy = layer
})
cache.on('error', ({ error, operation, layer }) => console.error(`  ${layer} ${operation}:`, error))

// Which layers hold `key`, asked through the layer objects themselves.
async function holders(key: string): Promise<string> {
  const found: string[] = []
  for (const layer of [memory, redis, postgres]) {
    if ((await layer.get(key)) !== undefined) found.push(layer.name)
  }
  return found.join(', ') || 'none'
}

const key = 'report:2024'

console.log('1. set writes every layer')
await cache.set(key, { year: 2024, orders: 1_234, revenueCents: 98_765_432_109_876n })
console.log(`  held by: ${await holders(key)}`)

console.log('2. Delete it from memory and Redis only, through the layer objects')
await memory.delete(key)
await redis.delete(key)
console.log(`  held by: ${await holders(key)}`)

console.log('3. Read it: Postgres answers, and fills Redis and memory again')
const report = (await cache.get<{ revenueCents: bigint }>(key))!
console.log(`  served by: ${servedBy} (revenueCents: ${report.revenueCents})`)
console.log(`  back in Redis: ${(await redis.get(key)) !== undefined}`)
console.log(`  held by: ${await holders(key)}`)

console.log('4. Read it again: memory answers')
await cache.get(key)
console.log(`  served by: ${servedBy}`)

// Remove what this example wrote, then release everything: close() waits for running work
// and closes the Redis client the layer created; the Keyv is ours to disconnect.
await cache.delete(key)
console.log(`after delete, held by: ${await holders(key)}`)
await cache.close()
await keyv.disconnect()
console.log('cache closed, keyv disconnected')
