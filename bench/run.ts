import { cpus } from 'node:os'
import { printScenario, printTargets } from './lib/report.js'
import { runScenario, type ScenarioResult, type Suite } from './lib/suite.js'
import { memoryHit } from './suites/memory-hit.js'
import { memorySet } from './suites/memory-set.js'
import { checkTargets } from './targets.js'

// Usage: npm run bench [-- <filter>...]; a filter selects suites or scenarios whose name
// contains it (e.g. `memory-hit`). Everything runs in this one process, one contender at a time.

const suites: Suite[] = [memoryHit, memorySet]

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
  for (const scenario of selected) {
    const result = await runScenario(scenario)
    printScenario(result)
    results.push(result)
  }
  printTargets(checkTargets(results))
  console.log(`\nTotal ${((Date.now() - started) / 1000).toFixed(1)} s`)
}

await main()
