// Warming: two instances of a service warm the team dashboards at start-up with a named
// warmer (a failed query is retried, a dashboard still fresh in Redis is skipped), and a
// scheduled warmer runs on one instance per period, through a lease in Redis. Needs Redis:
//   REDIS_URL=redis://127.0.0.1:6379 npx tsx examples/warming.ts
// In your application, import from 'layercache' and 'layercache/redis' instead.
import { type Cache, createCache, memoryLayer, type WarmReport } from '../src/index.js'
import { redisLayer } from '../src/redis/index.js'

const url = process.env.REDIS_URL
if (!url) {
  console.error(
    'examples/warming.ts needs a Redis server: set REDIS_URL, for example\n' +
      '  REDIS_URL=redis://127.0.0.1:6379 npx tsx examples/warming.ts',
  )
  process.exit(1)
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

// A fake database. Team 3's first query fails (a deadlock: retrying helps); team 6's always
// fails. Queries for teams 1 to 5 are counted.
const failuresLeft = new Map([[3, 1]])
let queries = 0
async function buildDashboard(team: number) {
  if (team === 6) throw new Error('team 6: query timed out')
  queries++
  const left = failuresLeft.get(team) ?? 0
  if (left > 0) {
    failuresLeft.set(team, left - 1)
    throw new Error(`team ${team}: deadlock`)
  }
  return { team, widgets: 10 + team }
}
async function activeTeams() {
  return [1, 2, 3, 4, 5, 6]
}

interface Instance {
  cache: Cache
  /** Where the last read was answered: a layer's name. */
  servedBy: string
}

// One instance per process in production; two in this process here, sharing Redis.
async function startInstance(name: string): Promise<Instance> {
  const redis = redisLayer({ url: url! })
  await redis.connect() // optional: fail here, clearly, if Redis cannot be reached
  const cache = createCache({
    namespace: 'warming-example',
    layers: [memoryLayer(), redis],
    policies: { dashboard: { ttl: '10m', layers: { memory: { ttl: '1m' } } } },
  })
  const instance: Instance = { cache, servedBy: '' }
  cache.on('hit', ({ layer }) => {
    instance.servedBy = layer
  })
  // Items that failed are in the report; they are also `error` events (operation 'warm').
  cache.on('error', ({ error, operation }) => {
    if (operation !== 'warm') console.error(`  [${name}] ${operation}:`, error)
  })
  // The warmer gives the items at each run, so new teams are included. It runs once at
  // start-up (on every instance), then every 15 minutes (on one instance of the fleet).
  cache.warmers.register(
    'dashboards',
    async () =>
      (await activeTeams()).map((team) => ({
        key: `dashboard:team:${team}`,
        factory: () => buildDashboard(team),
        policy: 'dashboard',
        tags: [`team:${team}`],
      })),
    { onStart: true, every: '15m', priority: 10, concurrency: 2, backoff: '20ms' },
  )
  return instance
}

/** Resolves with the first report of a warmer here: what a readiness probe would wait for. */
async function warmedUp(cache: Cache, name: string): Promise<WarmReport> {
  for (let waited = 0; waited < 2_000; waited += 5) {
    const warmer = cache.warmers.list().find((w) => w.name === name)
    if (warmer?.lastReport && !warmer.running) return warmer.lastReport
    await sleep(5)
  }
  throw new Error(`examples/warming.ts: warmer ${name} did not run within 2 s`)
}

function printReport(name: string, report: WarmReport) {
  const { succeeded, skipped, failed, cancelled, total } = report
  console.log(
    `  ${name}: ${total} items: ${succeeded.length} warmed, ${skipped.length} skipped, ${failed.length} failed, ${cancelled} cancelled (${report.durationMs} ms)`,
  )
  if (succeeded.length > 0) console.log(`  warmed: ${[...succeeded].sort().join(', ')}`)
  for (const { key, error } of failed) console.log(`  failed: ${key} (${(error as Error).message})`)
}

console.log('1. Instance A starts: the "dashboards" warmer runs at start-up')
const a = await startInstance('A')
const reportA = await warmedUp(a.cache, 'dashboards')
printReport('A', reportA)
console.log(`  queries for teams 1-5: ${queries} (team 3 failed once, and was retried)`)

console.log('2. Instance B starts: the dashboards are fresh in Redis, so it skips them')
const b = await startInstance('B')
const reportB = await warmedUp(b.cache, 'dashboards')
printReport('B', reportB)
console.log(`  skipped: ${[...reportB.skipped].sort().join(', ')}`)
console.log(`  queries for teams 1-5: ${queries}`)

console.log("3. A skipped key is not copied into B's memory; getMany copies them")
await b.cache.get('dashboard:team:1')
console.log(`  B: dashboard:team:1 from ${b.servedBy}`)
await b.cache.getMany(reportB.skipped) // one MGET, and the values are copied into memory
await b.cache.get('dashboard:team:2')
console.log(`  B, after getMany(report.skipped): dashboard:team:2 from ${b.servedBy}`)

console.log('4. A scheduled warmer runs on one instance per period (a lease in Redis)')
const runs = new Map<number, string[]>() // period -> instances that ran it
let computed = 0
const PERIOD_MS = 200 // '15m' in production; short here so that the example takes a second
for (const [name, { cache }] of [
  ['A', a],
  ['B', b],
] as const) {
  cache.warmers.register(
    'leaderboard',
    () => {
      const period = Math.floor(Date.now() / PERIOD_MS)
      runs.set(period, [...(runs.get(period) ?? []), name])
      // A TTL shorter than the period: each run finds it expired, and computes it again.
      return [{ key: 'leaderboard', factory: async () => ++computed, ttl: '150ms' }]
    },
    // Periods are aligned on the clock, so both instances ask for the same lease. No jitter
    // here; in production keep the default (0.1: up to a tenth of a period later).
    { every: PERIOD_MS, jitter: 0 },
  )
}
for (let waited = 0; runs.size < 2 && waited < 2_000; waited += 5) await sleep(5)
await sleep(50) // the other instance's timer fires too, finds the lease taken, and skips
const once = [...runs.values()].every((names) => names.length === 1)
console.log(`  ${runs.size} periods: each ran on exactly one instance: ${once}`)
console.log(`  leaderboard computed ${computed} times`)

console.log("5. cache.warmers.list(): B's warmers, highest priority first")
for (const { name, every, priority, running, lastReport } of b.cache.warmers.list()) {
  console.log(`  ${name}: every ${every} ms, priority ${priority}, running: ${running}`)
  if (name === 'dashboards' && lastReport) {
    const { succeeded, skipped, failed } = lastReport
    console.log(
      `  dashboards' last report here: ${succeeded.length} warmed, ${skipped.length} skipped, ${failed.length} failed`,
    )
  }
}

// Remove what this example wrote. close() stops the warmers' timers, waits for running work
// and closes the Redis clients the layers created, so the process can exit.
await a.cache.clear()
await a.cache.close()
await b.cache.close()
console.log('caches closed')
