// Two instances of one service, each with memory over Redis and a Redis bus of its own: what
// one changes, the other drops from its memory layer as soon as the bus delivers the news, and
// an acknowledged invalidation resolves only once the other has applied it. Needs Redis:
//   REDIS_URL=redis://127.0.0.1:6379 npx tsx examples/multi-instance.ts
// In your application, import from 'layercache' and 'layercache/redis' instead.
import { type Cache, createCache, memoryLayer } from '../src/index.js'
import { type RedisBus, redisBus, redisLayer } from '../src/redis/index.js'

const url = process.env.REDIS_URL
if (!url) {
  console.error(
    'examples/multi-instance.ts needs a Redis server: set REDIS_URL, for example\n' +
      '  REDIS_URL=redis://127.0.0.1:6379 npx tsx examples/multi-instance.ts',
  )
  process.exit(1)
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Polls `condition` every 5 ms, for 2 s at most. */
async function until(condition: () => boolean | Promise<boolean>): Promise<void> {
  for (let waited = 0; !(await condition()); waited += 5) {
    if (waited >= 2_000) throw new Error('examples/multi-instance.ts: waited 2 s in vain')
    await sleep(5)
  }
}

interface Instance {
  cache: Cache
  bus: RedisBus
  /** Where the last answer came from: a layer's name, or 'database' when the factory ran. */
  servedBy: string
}

// One instance per process in production; two in this process here. Same namespace: they
// share Redis keys, tag versions and the bus channel; each has its own memory layer and bus.
async function startInstance(name: string): Promise<Instance> {
  const redis = redisLayer({ url: url! })
  await redis.connect() // optional: fail here, clearly, if Redis cannot be reached
  const bus = redisBus({ url: url! })
  const cache = createCache({
    namespace: 'multi-instance-example',
    layers: [memoryLayer(), redis],
    bus,
    // Tag versions read from Redis are trusted for a minute: in this example only the bus can
    // tell one instance of the other's invalidation in time. (The default is '1s'.)
    tagTrust: '1m',
  })
  const instance: Instance = { cache, bus, servedBy: '' }
  cache.on('hit', ({ layer }) => {
    instance.servedBy = layer
  })
  cache.on('miss', () => {
    instance.servedBy = 'database'
  })
  cache.on('error', ({ error, operation }) => console.error(`  [${name}] ${operation}:`, error))
  // Until its bus listens, an instance may miss messages, and the bus's first connection drops
  // its memory layer. Waiting here is only for this example's output: a service can start
  // serving at once (its memory layer is trusted for `busTrust` until then).
  await bus.ready()
  return instance
}

// A fake database of prices; every query is counted.
const prices = new Map([
  [7, 1999],
  [8, 500],
])
let queries = 0
const price = (instance: Instance, id: number) =>
  instance.cache.wrap(
    `price:${id}`,
    async () => {
      queries++
      return prices.get(id)!
    },
    { tags: [`product:${id}`] },
  )

const a = await startInstance('A')
const b = await startInstance('B')
console.log(`both listen on ${a.bus.channel}`)

console.log('1. A and B read price:7: A computes it, B reads it from Redis, then from memory')
console.log(`  A: ${await price(a, 7)} (from ${a.servedBy})`)
console.log(`  B: ${await price(b, 7)} (from ${b.servedBy})`)
console.log(`  B: ${await price(b, 7)} (from ${b.servedBy})`)
console.log(`  database queries: ${queries}`)

console.log('2. The price changes; A invalidates product:7, without acknowledge')
prices.set(7, 2499)
await a.cache.invalidateTags(['product:7'])
// The message leaves A at the end of this event-loop turn: B has not heard of it yet.
console.log(`  B right after: ${await b.cache.get('price:7')} (from ${b.servedBy})`)
await until(async () => (await b.cache.get('price:7')) === undefined)
console.log('  B a moment later: undefined (the bus delivered, B dropped its copy)')
console.log(`  B: ${await price(b, 7)} (from ${b.servedBy}); database queries: ${queries}`)

console.log('3. A overwrites price:7 with set: B drops its copy and reads the new value')
await a.cache.set('price:7', 2299, { tags: ['product:7'] })
await until(async () => (await b.cache.get('price:7')) === 2299)
console.log(`  B: 2299 (from ${b.servedBy})`)

console.log('4. An acknowledged invalidation: it resolves once every other instance applied it')
await price(a, 8)
await price(b, 8)
await price(b, 8)
console.log(`  B: ${await b.cache.get('price:8')} (from ${b.servedBy})`)
prices.set(8, 450)
await a.cache.invalidateTags(['product:8'], { acknowledge: true })
console.log(`  B at once: ${await b.cache.get('price:8')}`)
console.log(`  B: ${await price(b, 8)} (from ${b.servedBy}); database queries: ${queries}`)

console.log(`errors: A=${a.cache.stats().errors} B=${b.cache.stats().errors}`)

// Remove what this example wrote (B is told to drop its memory layer too), then close: each
// cache closes its Redis layer's client and its bus's two connections.
await a.cache.clear({ acknowledge: true })
await a.cache.close()
await b.cache.close()
console.log('caches closed')
