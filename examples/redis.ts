// Memory over Redis: two caches, standing in for two processes, share what they compute
// through Redis, and values keep their types on the way. Needs a Redis server:
//   REDIS_URL=redis://127.0.0.1:6379 npx tsx examples/redis.ts
// In your application, import from 'layercache' and 'layercache/redis' instead.
import { createCache, memoryLayer } from '../src/index.js'
import { redisLayer } from '../src/redis/index.js'

const url = process.env.REDIS_URL
if (!url) {
  console.error(
    'examples/redis.ts needs a Redis server: set REDIS_URL, for example\n' +
      '  REDIS_URL=redis://127.0.0.1:6379 npx tsx examples/redis.ts',
  )
  process.exit(1)
}

// One cache per process. Both use the namespace 'redis-example', so they share its Redis keys;
// each keeps its own memory layer on top.
async function startProcess(name: string) {
  const redis = redisLayer({ url: url! })
  await redis.connect() // optional: fail here, clearly, if Redis cannot be reached
  const cache = createCache({
    namespace: 'redis-example',
    layers: [memoryLayer(), redis],
    policies: { default: { ttl: '10m', layers: { memory: { ttl: '30s' } } } },
  })
  cache.on('hit', ({ key, layer }) => console.log(`  [${name}] hit ${key} in ${layer}`))
  cache.on('miss', ({ key }) => console.log(`  [${name}] miss ${key}`))
  cache.on('error', ({ error, operation }) => console.error(`  [${name}] ${operation}:`, error))
  return { cache, redis }
}

interface Order {
  id: number
  placedAt: Date
  lines: Map<string, number>
  totalCents: bigint
}

// A fake database: every query is counted.
let queries = 0
async function loadOrder(id: number): Promise<Order> {
  queries++
  return {
    id,
    placedAt: new Date('2024-02-29T12:00:00.000Z'),
    lines: new Map([
      ['book', 2],
      ['pen', 10],
    ]),
    totalCents: 12_345_678_901_234_567_890n, // beyond Number.MAX_SAFE_INTEGER
  }
}

const a = await startProcess('A')
const b = await startProcess('B')

console.log('1. A computes order:7: written to its memory and to Redis')
await a.cache.wrap('order:7', () => loadOrder(7))

console.log('2. B has never seen order:7: its memory misses, Redis answers')
const order = await b.cache.wrap('order:7', () => loadOrder(7))
console.log(`  database queries: ${queries}`)

console.log('3. The types survived the trip through Redis')
console.log(
  `  placedAt is a Date: ${order.placedAt instanceof Date} (${order.placedAt.toISOString()})`,
)
console.log(`  lines is a Map: ${order.lines instanceof Map} (book x${order.lines.get('book')})`)
console.log(
  `  totalCents is a bigint: ${typeof order.totalCents === 'bigint'} (${order.totalCents})`,
)

console.log('4. B again: now from its own memory')
await b.cache.wrap('order:7', () => loadOrder(7))

console.log('5. The Redis key, and the health of the layer')
console.log(`  Redis key: ${a.redis.storeKey('order:7')}`)
const { state, failures, skipped, dirtyKeys } = a.redis.health()
console.log(
  `  health: state=${state} failures=${failures} skipped=${skipped} dirtyKeys=${dirtyKeys}`,
)
const { hits, sets, errors } = b.cache.stats().layers.redis!
console.log(`  B's redis layer: hits=${hits} sets=${sets} errors=${errors}`)

// Remove what this example wrote. close() waits for running work and closes the Redis
// clients the layers created, so the process can exit.
await a.cache.delete('order:7')
await a.cache.close()
await b.cache.close()
console.log('caches closed')
