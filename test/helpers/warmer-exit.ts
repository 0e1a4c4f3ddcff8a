import { createCache } from '../../src/index.js'

// A process with a cache on the real clock that registers scheduled warmers, for the test that
// they never keep a process alive (test/unit/warmers.test.ts). Mode 'close' closes the cache
// after registering; mode 'open' leaves it open (the timers are unref'd: the process exits all
// the same). It prints one JSON line once done, then has nothing left to do.

const mode = process.argv[2] === 'open' ? 'open' : 'close'
const cache = createCache()
let runs = 0
cache.warmers.register(
  'dashboards',
  () => {
    runs++
    return [{ key: 'dashboard:1', factory: () => ({ widgets: 3 }) }]
  },
  { every: '1h', onStart: true },
)
cache.warmers.register('reports', () => [], { every: '10m', jitter: 0.5 })

// Let the start-up run finish, so that the line below can show its report.
await new Promise((resolve) => setImmediate(resolve))
while (cache.warmers.list().some((warmer) => warmer.running)) {
  await new Promise((resolve) => setImmediate(resolve))
}
const warmed = await cache.get('dashboard:1')
if (mode === 'close') await cache.close()
process.stdout.write(
  `${JSON.stringify({
    mode,
    runs,
    warmed,
    warmers: cache.warmers.list().map(({ name, nextRun }) => ({ name, nextRun: nextRun ?? null })),
  })}\n`,
)
