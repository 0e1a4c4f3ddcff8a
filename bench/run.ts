import { cpus } from 'node:os'
import { stopRedisServer } from './lib/redis.js'
import { printScenario, printTargets } from './lib/report.js'
import {
  isProbe,
  type ProbeResult,
  runScenario,
  type ScenarioResult,
  type Suite,
} from './lib/suite.js'
import { bus } from './suites/bus.js'
import { memoryHit } from './suites/memory-hit.js'
import { memorySet } from './suites/memory-set.js'
import { redis } from './suites/redis.js'
import { redisDown } from './suites/redis-down.js'
import { stampede } from './suites/stampede.js'
import { steadyLoad } from './suites/steady-load.js'
import { tags } from './suites/tags.js'
import { wrapMany } from './suites/wrap-many.js'
import { checkTargets } from './targets.js'

// Usage: npm run bench [-- <filter>...]; a filter selects suites or scenarios whose name
// contains it (e.g. `memory-hit`, `redis`). Everything runs in this one process, one
// contender at a time; the Redis suites share one private redis-server, stopped at the end.

const suites: Suite[] = [
  memoryHit,
  memorySet,
  redis,
  redisDown,
  tags,
  stampede,
  steadyLoad,
  bus,
  wrapMany,
]

async function main(): Promise<void> {
  const filters = process.argv.slice(2)
  const selected = suites.flatMap((suite) =>
    suite
      .scenarios()
      .filter(
        (scenario) =>
          filters.length === 0 ||
          filters.some((f) => suite.name.includes(f) || scenario.id.includes(f)),
      ),
  )
  if (selected.length === 0) {
    const known = suites.flatMap((suite) => [suite.name, ...suite.scenarios().map((s) => s.id)])
    console.error(
      `No scenario matches ${filters.join(', ')}; known: ${[...new Set(known)].join(', ')}`,
    )
    process.exitCode = 1
    return
  }

  const started = Date.now()
  console.log('# layercache benchmarks\n')
  console.log(
    `node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'} (${cpus().length} cores), ${process.platform}/${process.arch}, ${new Date().toISOString()}`,
  )
  const results: ScenarioResult[] = []
  const probes: ProbeResult[] = []
  try {
    for (const scenario of selected) {
      if (isProbe(scenario)) {
        probes.push(await scenario.run())
        continue
      }
      const result = await runScenario(scenario)
      printScenario(result)
      results.push(result)
    }
  } finally {
    await stopRedisServer()
  }
  printTargets(checkTargets(results, probes))
  console.log(`\nTotal ${((Date.now() - started) / 1000).toFixed(1)} s`)
}

await main()
