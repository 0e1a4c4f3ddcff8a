import { formatNs, formatRatio, type TargetOutcome } from './lib/report.js'
import type { ScenarioResult } from './lib/suite.js'

function nsOf(results: readonly ScenarioResult[], scenario: string, contender: string) {
  const found = results.find((result) => result.scenario.id === scenario)
  return found?.results.find((result) => result.name === contender)?.nsPerOp
}

function skip(name: string): TargetOutcome {
  return { name, status: 'SKIP', detail: 'scenario memory-hit not run' }
}

/** The performance targets layercache aims for, checked against this run's figures. */
export function checkTargets(results: readonly ScenarioResult[]): TargetOutcome[] {
  const wrap = nsOf(results, 'memory-hit', 'layercache wrap')
  const map = nsOf(results, 'memory-hit', 'Map')
  const bento = nsOf(results, 'memory-hit', 'bentocache getOrSet')
  const outcomes: TargetOutcome[] = []

  const overMapName = 'layercache wrap hit <= 5x the Map baseline'
  if (wrap === undefined || map === undefined) outcomes.push(skip(overMapName))
  else {
    const ratio = wrap / map
    outcomes.push({
      name: overMapName,
      status: ratio <= 5 ? 'PASS' : 'MISS',
      detail: `${formatNs(wrap)} ns vs ${formatNs(map)} ns = ${formatRatio(ratio)} (limit 5x)`,
    })
  }

  const bentoName = 'layercache wrap hit >= 15x faster than bentocache getOrSet hit'
  if (wrap === undefined || bento === undefined) outcomes.push(skip(bentoName))
  else {
    const ratio = bento / wrap
    outcomes.push({
      name: bentoName,
      status: ratio >= 15 ? 'PASS' : 'MISS',
      detail: `${formatNs(bento)} ns vs ${formatNs(wrap)} ns = ${formatRatio(ratio)} faster (need 15x)`,
    })
  }
  return outcomes
}
