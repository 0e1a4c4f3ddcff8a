// Quickstart: the in-memory cache that createCache() gives you, with two named policies.
// Run it with `npm run quickstart`. In your application, import from 'layercache' instead.
import { createCache } from '../src/index.js'

const cache = createCache({
  namespace: 'quickstart',
  policies: {
    default: { ttl: '5m' },
    users: { ttl: '1h', jitter: 0.1 }, // extends default: 1 hour, up to 10% taken off each TTL
  },
})

// A slow fake database: every query takes 50 ms and is counted.
let queries = 0
async function findUser(id: number): Promise<{ id: number; name: string }> {
  queries++
  await new Promise((resolve) => setTimeout(resolve, 50))
  return { id, name: `User ${id}` }
}

async function timed<T>(label: string, run: () => Promise<T>): Promise<T> {
  const start = performance.now()
  const value = await run()
  console.log(`${label}: ${(performance.now() - start).toFixed(1)} ms`)
  return value
}

// 1. wrap: the first call runs the factory, the second is served from memory.
const first = await timed('first wrap of user:42 (miss, queries the database)', () =>
  cache.wrap('user:42', () => findUser(42), { policy: 'users' }),
)
const second = await timed('second wrap of user:42 (hit)', () =>
  cache.wrap('user:42', () => findUser(42), { policy: 'users' }),
)
console.log(`value: ${JSON.stringify(second)}, same object: ${first === second}`)
console.log(`database queries so far: ${queries}`)

// 2. Stampede protection: 100 concurrent misses of one key run the factory once.
const before = queries
await Promise.all(
  Array.from({ length: 100 }, () => cache.wrap('user:7', () => findUser(7), { policy: 'users' })),
)
console.log(`100 concurrent wraps of user:7 ran ${queries - before} database query`)

// 3. set / get / delete.
await cache.set('greeting', 'hello', { ttl: '30s' })
console.log(`get('greeting') -> ${await cache.get('greeting')}`)
await cache.delete('greeting')
console.log(`after delete('greeting') -> ${await cache.get('greeting')}`)

// 4. Counters since creation.
const { hits, misses, sets, deletes, factoryRuns } = cache.stats()
console.log(
  `stats: hits=${hits} misses=${misses} sets=${sets} deletes=${deletes} factoryRuns=${factoryRuns}`,
)

// 5. close() waits for running work and releases the layers; the process can exit.
await cache.close()
console.log('cache closed')
