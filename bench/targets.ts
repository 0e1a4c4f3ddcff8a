import { formatMs } from './lib/outage.js'
import { REDIS_TIMEOUT_MS as TIMEOUT_MS } from './lib/redis.js'
import { formatNs, formatOps, formatRatio, ratioTo, type TargetOutcome } from './lib/report.js'
import type { ProbeResult, ScenarioResult } from './lib/suite.js'

function nsOf(results: readonly ScenarioResult[], scenario: string, contender: string) {
  const found = results.find((result) => result.scenario.id === scenario)
  return found?.results.find((result) => result.name === contender)?.nsPerOp
}

/** A contender's ratio to the scenario's baseline, as the table prints it (see `ratioTo`). */
function ratioOf(results: readonly ScenarioResult[], scenario: string, contender: string) {
  const found = results.find((result) => result.scenario.id === scenario)
  const result = found?.results.find((r) => r.name === contender)
  const baseline = found?.results.find((r) => r.name === found.scenario.baseline)
  if (!found || !result || !baseline) return undefined
  return {
    value: result.nsPerOp,
    reference: baseline.nsPerOp,
    ratio: ratioTo(result, baseline, found.scenario),
  }
}

function skip(name: string, scenario: string): TargetOutcome {
  return { name, status: 'SKIP', detail: `scenario ${scenario} not run` }
}

/** A target on the ratio `value / reference` (ns figures), at most `limit`. */
function atMost(
  name: string,
  scenario: string,
  value: number | undefined,
  reference: number | undefined,
  limit: number,
): TargetOutcome {
  if (value === undefined || reference === undefined) return skip(name, scenario)
  const ratio = value / reference
  return {
    name,
    status: ratio <= limit ? 'PASS' : 'MISS',
    detail: `${formatNs(value)} ns vs ${formatNs(reference)} ns = ${formatRatio(ratio)} (limit ${limit}x)`,
  }
}

/** Most a cold call may take while Redis is down, before the breaker opens: the timeout plus slack. */
const COLD_LIMIT_MS = TIMEOUT_MS + 25
/** Most a cold call may take once the breaker is open: the factory returns at once, so ~0. */
const OPEN_LIMIT_MS = 1

/** The performance targets layercache aims for, checked against this run's figures. */
export function checkTargets(
  results: readonly ScenarioResult[],
  probes: readonly ProbeResult[] = [],
): TargetOutcome[] {
  const wrap = nsOf(results, 'memory-hit', 'layercache wrap')
  const map = nsOf(results, 'memory-hit', 'Map')
  const bento = nsOf(results, 'memory-hit', 'bentocache getOrSet')
  const outcomes: TargetOutcome[] = []

  outcomes.push(atMost('layercache wrap hit <= 5x the Map baseline', 'memory-hit', wrap, map, 5))

  const bentoName = 'layercache wrap hit >= 15x faster than bentocache getOrSet hit'
  if (wrap === undefined || bento === undefined) outcomes.push(skip(bentoName, 'memory-hit'))
  else {
    const ratio = bento / wrap
    outcomes.push({
      name: bentoName,
      status: ratio >= 15 ? 'PASS' : 'MISS',
      detail: `${formatNs(bento)} ns vs ${formatNs(wrap)} ns = ${formatRatio(ratio)} faster (need 15x)`,
    })
  }

  for (const call of ['get', 'wrap']) {
    const name = `layercache ${call} L2 hit <= 1.2x raw GET + decode`
    const found = ratioOf(results, 'redis-hit', `layercache ${call}`)
    if (!found) outcomes.push(skip(name, 'redis-hit'))
    else
      outcomes.push({
        name,
        status: found.ratio <= 1.2 ? 'PASS' : 'MISS',
        detail: `${formatRatio(found.ratio)} round by round (medians ${formatNs(found.value)} vs ${formatNs(found.reference)} ns; limit 1.2x)`,
      })
  }

  const setName = 'layercache set throughput (64 in flight) >= 0.85x raw SET PX'
  const set = ratioOf(results, 'redis-set-64', 'layercache set')
  if (!set) outcomes.push(skip(setName, 'redis-set-64'))
  else
    outcomes.push({
      name: setName,
      status: set.ratio >= 0.85 ? 'PASS' : 'MISS',
      detail: `${formatRatio(set.ratio)} round by round (medians ${formatOps(set.value)} vs ${formatOps(set.reference)} ops/s; need 0.85x)`,
    })

  const down = probes.find((probe) => probe.id === 'redis-down')?.figures
  for (const fault of ['killed', 'frozen']) {
    const first = down?.[`${fault} first`]
    const next = down?.[`${fault} next`]
    const firstName = `layercache first cold wrap, Redis ${fault}: <= ${TIMEOUT_MS} ms timeout + 25 ms`
    const nextName = `layercache later cold wraps, Redis ${fault} (breaker): median <= ${OPEN_LIMIT_MS} ms`
    if (!down) {
      outcomes.push(skip(firstName, 'redis-down'), skip(nextName, 'redis-down'))
      continue
    }
    outcomes.push({
      name: firstName,
      status: first !== undefined && first <= COLD_LIMIT_MS ? 'PASS' : 'MISS',
      detail: `${formatMs(first)} (limit ${COLD_LIMIT_MS} ms)`,
    })
    outcomes.push({
      name: nextName,
      status: next !== undefined && next <= OPEN_LIMIT_MS ? 'PASS' : 'MISS',
      detail: `${formatMs(next)} (limit ${OPEN_LIMIT_MS} ms)`,
    })
  }
  return outcomes
}
