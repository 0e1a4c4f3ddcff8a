import { execFile } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RedisServer, startRedis } from '../helpers/redis-server.js'

// Every examples/*.ts file runs as a child process, so examples cannot rot. New files are
// picked up automatically; those listed below must also print the given lines. Examples get
// REDIS_URL (a private redis-server, or REDIS_URL when set) and POSTGRES_URL.

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const examplesDir = join(root, 'examples')
const tsx = join(root, 'node_modules', '.bin', 'tsx')
const RUN_TIMEOUT_MS = 20_000
const POSTGRES_URL = process.env.POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/test'

const expectedOutput: Record<string, readonly string[]> = {
  'fail-safe.ts': [
    '  100 callers got v1; origin requests: 1',
    '  t=60.02s refresh of prices (early)',
    '  t=130s served prices stale (revalidating)',
    '  t=250.05s wrap (backing off: no request) -> v3',
    '  t=270.3s served prices stale (timeout)',
    '  t=332.1s origin: 304 not modified, v4',
    "  t=334.1s get('report') -> ready",
    'stats: hits=11 misses=6 stale=7 refreshes=3 factoryRuns=8 factoryErrors=2 timeouts=2',
  ],
  'tags.ts': [
    '  still cached: dashboard:user:7, analytics:user:7:visits, summary:user:7',
    '  read again: 3 database reads, dashboard:user:42 plan -> pro',
    '  still cached: analytics:student:4567:grades, analytics:student:789:grades',
    '  two reads right after: "ada 10, linus 8", "ada 10, linus 8"',
    '  refresh landed: 1 factory run for the two stale reads',
    '  leaderboard: linus 12, ada 10',
    'stats: invalidations=3 stale=2',
    'cache closed',
  ],
  'decorators.ts': [
    "  getDashboard('42') twice -> free; getDashboard ran 1x",
    "  100 concurrent getDashboard('7') -> getDashboard ran 2x in all",
    '  key: UserService.search:{"limit":10,"plan":"pro"}',
    '  search twice, keys in another order -> search ran 1x',
    "  updatePlan('42', 'pro'), then getDashboard('42') -> pro",
    "  getDashboard ran 3x; search({ plan: 'pro' }) -> Ada, Linus",
    "  updatePlan('7', 'gold') threw \"no plan called gold\": nothing invalidated",
    "  getDashboard('7') still a hit: getDashboard ran 3x",
    "  saveUser(Grace), then getUser('99') -> Grace; getUser ran 0x",
    'method calls: getDashboard=3 search=2 getUser=0 updatePlan=2 saveUser=1',
    'cache closed',
  ],
  'quickstart.ts': [
    'database queries so far: 1',
    'same object: true',
    '100 concurrent wraps of user:7 ran 1 database query',
    "get('greeting') -> hello",
    "after delete('greeting') -> undefined",
    'stats: hits=2 misses=3 sets=3 deletes=1 factoryRuns=2',
    'cache closed',
  ],
  'policies.ts': [
    `t=299.999s get('page:home') -> "<html>" (hit in memory)`,
    "t=300s get('page:home') -> undefined (miss)",
    `t=1800s get('session:abc') -> undefined (miss)`,
    "t=60s get('report:daily') -> 1234 (hit in big)",
    "t=60s get('report:daily') -> 1234 (hit in memory)",
    "t=3600s get('report:daily') -> undefined (miss)",
    `t=0s get('blob:1') -> "large value" (hit in big)`,
    'just before 8m still cached: feed:a, feed:b, feed:c',
    'just before 9m still cached: feed:a, feed:b',
    'just before 10m still cached: feed:a',
    "t=10s get('flash') -> undefined (miss)",
    "t=10s get('not-cached') -> undefined (miss)",
    `t=36500d get('forever') -> "value" (hit in memory)`,
  ],
  'redis.ts': [
    '[A] miss order:7',
    '[B] hit order:7 in redis',
    'database queries: 1',
    'placedAt is a Date: true (2024-02-29T12:00:00.000Z)',
    'lines is a Map: true (book x2)',
    'totalCents is a bigint: true (12345678901234567890)',
    '[B] hit order:7 in memory',
    'Redis key: redis-example:order:7',
    'health: state=closed failures=0 skipped=0 dirtyKeys=0',
    "B's redis layer: hits=1 sets=0 errors=0",
    'caches closed',
  ],
  'multi-instance.ts': [
    'both listen on layercache:v1:multi-instance-example',
    '  A: 1999 (from database)\n  B: 1999 (from redis)\n  B: 1999 (from memory)',
    '  B right after: 1999 (from memory)',
    '  B a moment later: undefined (the bus delivered, B dropped its copy)',
    '  B: 2499 (from database); database queries: 2',
    '  B: 2299 (from redis)',
    '  B at once: undefined',
    '  B: 450 (from database); database queries: 4',
    'errors: A=0 B=0',
    'caches closed',
  ],
  'warming.ts': [
    '  A: 6 items: 5 warmed, 0 skipped, 1 failed, 0 cancelled',
    '  warmed: dashboard:team:1, dashboard:team:2, dashboard:team:3, dashboard:team:4, dashboard:team:5\n' +
      '  failed: dashboard:team:6 (team 6: query timed out)\n' +
      '  queries for teams 1-5: 6 (team 3 failed once, and was retried)',
    '  B: 6 items: 0 warmed, 5 skipped, 1 failed, 0 cancelled',
    '  skipped: dashboard:team:1, dashboard:team:2, dashboard:team:3, dashboard:team:4, dashboard:team:5\n' +
      '  queries for teams 1-5: 6',
    '  B: dashboard:team:1 from redis\n' +
      '  B, after getMany(report.skipped): dashboard:team:2 from memory',
    '  2 periods: each ran on exactly one instance: true\n  leaderboard computed 2 times',
    '  dashboards: every 900000 ms, priority 10, running: false\n' +
      "  dashboards' last report here: 0 warmed, 5 skipped, 1 failed\n" +
      '  leaderboard: every 200 ms, priority 0, running: false',
    'caches closed',
  ],
  'three-layers.ts': [
    '1. set writes every layer\n  held by: memory, redis, postgres',
    '2. Delete it from memory and Redis only, through the layer objects\n  held by: postgres',
    '3. Read it: Postgres answers, and fills Redis and memory again\n' +
      '  served by: postgres (revenueCents: 98765432109876)\n' +
      '  back in Redis: true\n' +
      '  held by: memory, redis, postgres',
    '4. Read it again: memory answers\n  served by: memory',
    'after delete, held by: none',
    'cache closed, keyv disconnected',
  ],
}

/** Examples that need services, and the variables without which they must refuse to run. */
const needs: Record<string, readonly string[]> = {
  'redis.ts': ['REDIS_URL'],
  'multi-instance.ts': ['REDIS_URL'],
  'three-layers.ts': ['REDIS_URL', 'POSTGRES_URL'],
  'warming.ts': ['REDIS_URL'],
}

interface Run {
  /** The exit code; a non-zero number or null on failure. */
  code: number | string | null
  /** True when the run was killed for exceeding RUN_TIMEOUT_MS. */
  timedOut: boolean
  stdout: string
  stderr: string
}

function runExample(file: string, env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolvePromise) => {
    execFile(
      tsx,
      [join(examplesDir, file)],
      { cwd: root, timeout: RUN_TIMEOUT_MS, env: { ...env, NO_COLOR: '1' } },
      (error, stdout, stderr) => {
        const failure = error as
          | (Error & { code?: number | string | null; killed?: boolean })
          | null
        resolvePromise({
          code: failure ? (failure.code ?? null) : 0,
          timedOut: failure?.killed === true,
          stdout,
          stderr,
        })
      },
    )
  })
}

const files = readdirSync(examplesDir)
  .filter((name) => name.endsWith('.ts'))
  .sort()

let redis: RedisServer
let serviceEnv: NodeJS.ProcessEnv

beforeAll(async () => {
  redis = await startRedis()
  serviceEnv = { ...process.env, REDIS_URL: redis.url, POSTGRES_URL }
})

afterAll(async () => {
  await redis?.stop()
})

describe('examples', () => {
  it('include every example with expected output', () => {
    for (const name of [...Object.keys(expectedOutput), ...Object.keys(needs)]) {
      expect(files).toContain(name)
    }
  })

  for (const file of files) {
    it(`${file} exits 0 and prints what it shows`, {
      timeout: RUN_TIMEOUT_MS + 5_000,
    }, async () => {
      const run = await runExample(file, serviceEnv)
      const why = run.timedOut ? `timed out after ${RUN_TIMEOUT_MS} ms` : `stderr:\n${run.stderr}`
      expect(run.code, `exit code of ${file}; ${why}`).toBe(0)
      for (const text of expectedOutput[file] ?? []) {
        expect(run.stdout, `output of ${file}`).toContain(text)
      }
    })
  }

  for (const [file, variables] of Object.entries(needs)) {
    for (const variable of variables) {
      it(`${file} without ${variable} exits 1 and says what it needs`, {
        timeout: RUN_TIMEOUT_MS + 5_000,
      }, async () => {
        const env = { ...serviceEnv }
        delete env[variable]
        const run = await runExample(file, env)
        expect(run.code, `exit code of ${file} without ${variable}`).toBe(1)
        expect(run.stderr, `message of ${file} without ${variable}`).toMatch(
          new RegExp(`needs .*: set .*${variable}`),
        )
      })
    }
  }
})
