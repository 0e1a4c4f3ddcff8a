// Tags: invalidate everything about one user across policies with one call, invalidate a key
// prefix, and serve a stale value while one refresh runs. Memory only, no setup.
// Run it with `npx tsx examples/tags.ts`. In your application, import from 'layercache' instead.
import { createCache } from '../src/index.js'

const cache = createCache({
  namespace: 'tags-example',
  prefixes: true, // track key prefixes, for invalidatePrefix
  policies: {
    dashboard: { ttl: '1m' },
    analytics: { ttl: '1h' },
    summary: { ttl: '1d' },
  },
})

// A fake database; every read is counted.
const users = new Map([
  [42, { name: 'Ada', plan: 'free' }],
  [7, { name: 'Linus', plan: 'pro' }],
])
let reads = 0
async function loadUser(id: number) {
  reads++
  return { id, ...users.get(id)! }
}

// Three views of a user, each under its own policy, all tagged with the user.
const views = (id: number) =>
  [
    [`dashboard:user:${id}`, 'dashboard'],
    [`analytics:user:${id}:visits`, 'analytics'],
    [`summary:user:${id}`, 'summary'],
  ] as const
async function readViews(id: number) {
  const tags = [`user:${id}`]
  for (const [key, policy] of views(id)) await cache.wrap(key, () => loadUser(id), { policy, tags })
}

async function cached(keys: readonly string[]): Promise<string> {
  const held: string[] = []
  for (const key of keys) if (await cache.has(key)) held.push(key)
  return held.join(', ') || 'none'
}

console.log('1. One user, three policies, one invalidation')
await readViews(42)
await readViews(7)
const allViews = [...views(42), ...views(7)].map(([key]) => key)
console.log(`  cached: ${await cached(allViews)}`)
// The write path: update the database, then invalidate the user's tag.
users.set(42, { name: 'Ada', plan: 'pro' })
await cache.invalidateTags(['user:42'])
console.log("  user 42 changed plan; invalidateTags(['user:42'])")
console.log(`  still cached: ${await cached(allViews)}`)
reads = 0
await readViews(42)
const dashboard = await cache.get<{ plan: string }>('dashboard:user:42')
console.log(`  read again: ${reads} database reads, dashboard:user:42 plan -> ${dashboard?.plan}`)

console.log('2. invalidatePrefix: every key under analytics:student:456')
const studentKeys = [
  'analytics:student:456:grades',
  'analytics:student:456:attendance',
  'analytics:student:456:term:2:grades',
  'analytics:student:4567:grades', // another student: prefixes are whole segments
  'analytics:student:789:grades',
]
for (const key of studentKeys) await cache.set(key, { key }, { policy: 'analytics' })
await cache.invalidatePrefix('analytics:student:456')
console.log(`  still cached: ${await cached(studentKeys)}`)

console.log("3. mode: 'stale': the old value is served while one refresh runs")
let scores = { ada: 10, linus: 8 }
let runs = 0
async function computeLeaderboard() {
  runs++
  await new Promise((resolve) => setTimeout(resolve, 50)) // a slow query
  return Object.entries(scores)
    .sort(([, a], [, b]) => b - a)
    .map(([name, score]) => `${name} ${score}`)
    .join(', ')
}
const board = () =>
  cache.wrap('summary:leaderboard', computeLeaderboard, { policy: 'summary', tags: ['scores'] })
cache.on('stale', ({ key }) => console.log(`  event stale: ${key}`))
console.log(`  leaderboard: ${await board()}`)
scores = { ada: 10, linus: 12 }
await cache.invalidateTags(['scores'], { mode: 'stale' })
console.log("  scores changed; invalidateTags(['scores'], { mode: 'stale' })")
// The refresh writes the new value when it lands; wait for that to show it.
const refreshed = new Promise<void>((resolve) => {
  const off = cache.on('set', ({ key }) => {
    if (key === 'summary:leaderboard') {
      off()
      resolve()
    }
  })
})
runs = 0
const first = await board() // served stale; starts the refresh in the background
const second = await board() // still stale: the refresh has not landed yet
console.log(`  two reads right after: "${first}", "${second}"`)
await refreshed
console.log(`  refresh landed: ${runs} factory run for the two stale reads`)
console.log(`  leaderboard: ${await board()}`)

const { invalidations, stale } = cache.stats()
console.log(`stats: invalidations=${invalidations} stale=${stale}`)
await cache.close()
console.log('cache closed')
