// Policies: per-policy TTLs, a per-layer TTL, jitter, and expiry shown with an injected clock
// (no sleeping). Run it with `npx tsx examples/policies.ts`.
// In your application, import from 'layercache' instead.
import { createCache, memoryLayer } from '../src/index.js'

// A clock we move by hand: every expiry decision of the cache reads it.
let now = 0
const clock = { now: () => now }
const at = (ms: number) => {
  now = ms
}
const MINUTE = 60_000
const DAY = 24 * 60 * MINUTE
const elapsed = () => (now < DAY ? `${now / 1000}s` : `${Math.round(now / DAY)}d`)

// Jitter draws from `random`; a fixed sequence makes this example repeatable.
const draws = [0, 0.5, 0.99]
let draw = 0
const random = () => draws[draw++ % draws.length]!

// Two layers: a small fast one on top, a bigger one below (a stand-in for a shared store).
const cache = createCache({
  clock,
  random,
  layers: [memoryLayer({ name: 'memory', maxEntries: 1_000 }), memoryLayer({ name: 'big' })],
  policies: {
    default: { ttl: '5m' },
    sessions: { ttl: '30m' },
    // Fresh for an hour, but the top layer keeps it for at most 60 seconds.
    analytics: { ttl: '1h', layers: { memory: { ttl: '60s' } } },
    // Never stored in the top layer.
    bulky: { ttl: '10m', layers: { memory: { ttl: 0 } } },
    // Each write takes a random 0-20% off the 10-minute TTL, so expiries spread out.
    feed: { ttl: '10m', jitter: 0.2 },
  },
})

const hitLayer: string[] = []
cache.on('hit', ({ layer }) => hitLayer.push(layer))
async function show(key: string): Promise<void> {
  hitLayer.length = 0
  const value = await cache.get(key)
  const from = hitLayer.length > 0 ? ` (hit in ${hitLayer[0]})` : ' (miss)'
  console.log(`  t=${elapsed()} get('${key}') -> ${JSON.stringify(value)}${from}`)
}

console.log('1. Per-policy TTLs')
at(0)
await cache.set('page:home', '<html>') // default: 5 minutes
await cache.set('session:abc', { user: 42 }, { policy: 'sessions' }) // 30 minutes
at(5 * MINUTE - 1)
await show('page:home')
at(5 * MINUTE)
await show('page:home')
await show('session:abc')
at(30 * MINUTE)
await show('session:abc')

console.log('2. Per-layer TTL: analytics lives 1h, but only 60s in the memory layer')
at(0)
await cache.set('report:daily', 1234, { policy: 'analytics' })
await show('report:daily')
at(60_000)
await show('report:daily') // memory expired; 'big' answers and refills memory for 60s more
await show('report:daily')
at(60 * MINUTE)
await show('report:daily')
at(0)
await cache.set('blob:1', 'large value', { policy: 'bulky' })
await show('blob:1')

console.log('3. Jitter: three writes under { ttl: 10m, jitter: 0.2 } with random = 0, 0.5, 0.99')
at(0)
draw = 0
for (const key of ['feed:a', 'feed:b', 'feed:c']) await cache.set(key, key, { policy: 'feed' })
for (const minutes of [8, 9, 10]) {
  at(minutes * MINUTE - 1)
  const alive: string[] = []
  for (const key of ['feed:a', 'feed:b', 'feed:c']) if (await cache.has(key)) alive.push(key)
  console.log(`  just before ${minutes}m still cached: ${alive.join(', ') || 'none'}`)
}

console.log('4. Call overrides, ttl: 0 and ttl: Infinity')
at(0)
await cache.set('flash', 'short', { policy: 'sessions', ttl: '10s' }) // overrides the 30m
await cache.set('not-cached', 'value', { ttl: 0 })
await cache.set('forever', 'value', { ttl: Number.POSITIVE_INFINITY })
at(10_000)
await show('flash')
await show('not-cached')
at(100 * 365 * DAY) // a hundred years later
await show('forever')

await cache.close()
