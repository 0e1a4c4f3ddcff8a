// Stampede protection and fail-safe: one origin request for 100 concurrent misses, early
// refresh, stale-while-revalidate, stale-if-error with its retry back-off, a soft timeout, a
// hard timeout, and a conditional refresh through ctx.stale. Memory only, on a manual clock:
// no sleeping, it runs in an instant. Run it with `npx tsx examples/fail-safe.ts`.
// In your application, import from 'layercache' and 'layercache/testing' instead.
import { type CacheError, createCache, type FactoryContext } from '../src/index.js'
import { manualClock } from '../src/testing/index.js'

// Every expiry, timeout and timer of the cache runs on this clock; `advance` moves it.
const clock = manualClock(0)
const t = () => `t=${clock.now() / 1000}s`
/** Lets the promises that the clock settled run. */
const settle = () => new Promise((resolve) => setImmediate(resolve))
async function advance(ms: number): Promise<void> {
  await settle() // the factory must have started before time moves
  clock.advance(ms)
  await settle()
}

// A stand-in for a slow HTTP origin. Each request takes `latency` ms on the clock, and it
// answers conditional requests: 304 when the caller already holds the current version.
interface Prices {
  version: number
}
const origin = { version: 1, latency: 50, down: false, requests: 0 }
async function fetchPrices(ctx: FactoryContext<Prices>): Promise<Prices> {
  origin.requests++
  await new Promise<void>((resolve) => clock.schedule(resolve, origin.latency))
  if (origin.down) {
    console.log(`  ${t()} origin: 503`)
    throw new Error('origin answered 503')
  }
  if (ctx.stale?.version === origin.version) {
    console.log(`  ${t()} origin: 304 not modified, v${origin.version}`)
    return ctx.stale // what we already had, cached again for a full TTL
  }
  console.log(`  ${t()} origin: 200, v${origin.version}`)
  return { version: origin.version }
}

const cache = createCache({
  clock,
  random: () => 0.5, // early refresh draws from it: fixed here, so every run is the same
  policies: {
    default: {
      ttl: '1m',
      staleWhileRevalidate: '30s', // then served stale while one refresh runs
      staleIfError: '1h', // then served stale when the origin fails or is slow
      staleIfErrorRetry: '10s', // after a failure, the origin is left alone this long
      softTimeout: '200ms', // with a stale value at hand, wait at most this long
      earlyRefresh: true, // refresh shortly before expiry, on a hit
    },
  },
})
cache.on('stale', ({ key, reason }) => console.log(`  ${t()} served ${key} stale (${reason})`))
cache.on('refresh', ({ key, reason }) => console.log(`  ${t()} refresh of ${key} (${reason})`))
cache.on('error', ({ operation, error }) =>
  console.log(`  ${t()} error event, ${operation}: ${(error as Error).message}`),
)

const wrap = () => cache.wrap('prices', fetchPrices)
/** Prints what `call` answered, and when; moves the clock `ms` first if it must wait. */
async function show(label: string, call: Promise<Prices>, ms = 0): Promise<void> {
  if (ms > 0) await advance(ms)
  const { version } = await call
  console.log(`  ${t()} ${label} -> v${version}`)
}

console.log('1. Single flight: 100 concurrent misses, one origin request')
const calls = Array.from({ length: 100 }, wrap)
await advance(50)
const answers = await Promise.all(calls)
console.log(`  100 callers got v${answers[0]!.version}; origin requests: ${origin.requests}`)

console.log('2. Early refresh: hits just before expiry (fresh until 60.05s) refresh it')
origin.version = 2
clock.advance(60_010 - clock.now())
await show('wrap (40 ms left: no refresh yet)', wrap())
clock.advance(10)
await show('wrap (30 ms left)', wrap())
await advance(50)
await show('wrap', wrap())

console.log('3. Stale while revalidate: expired 10s ago, served at once while one refresh runs')
origin.version = 3
clock.advance(130_000 - clock.now())
console.log(`  ${t()} get -> ${await cache.get('prices')} (get never serves an expired value)`)
await show('wrap', wrap())
await show('wrap', wrap()) // joins the refresh that is running: no second request
await advance(50)
await show('wrap', wrap())

console.log('4. Stale if error: the origin is down, 60s after expiry')
origin.down = true
clock.advance(250_000 - clock.now())
await show('wrap', wrap(), 50)
await show('wrap (backing off: no request)', wrap())
clock.advance(10_000)
await show('wrap (back-off over: one request)', wrap(), 50)

console.log('5. Soft timeout: the origin is back but takes 1s; wrap waits 200ms')
origin.down = false
origin.version = 4
origin.latency = 1_000
clock.advance(10_000)
await show('wrap', wrap(), 200)
await advance(800) // the request goes on in the background and updates the cache
await show('wrap', wrap())

console.log('6. Conditional refresh: ctx.stale lets the origin answer 304')
clock.advance(60_000)
await show('wrap', wrap())
await advance(1_000)
await show('wrap (fresh again, for a full TTL)', wrap())

console.log('7. Hard timeout, no stale value at hand: the call fails, the factory goes on')
const report = cache
  .wrap('report', () => new Promise((resolve) => clock.schedule(() => resolve('ready'), 2_000)), {
    hardTimeout: '500ms',
  })
  .catch((error: unknown) => error)
await advance(500)
const error = (await report) as CacheError
console.log(`  ${t()} ${error.code}: ${error.message}`)
await advance(1_500)
console.log(`  ${t()} get('report') -> ${await cache.get('report')}`)

const { hits, misses, stale, refreshes, factoryRuns, factoryErrors, timeouts } = cache.stats()
console.log(
  `stats: hits=${hits} misses=${misses} stale=${stale} refreshes=${refreshes} ` +
    `factoryRuns=${factoryRuns} factoryErrors=${factoryErrors} timeouts=${timeouts}`,
)
console.log(`origin requests: ${origin.requests}`)
await cache.close()
console.log('cache closed')
