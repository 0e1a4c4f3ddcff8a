import { formatMs } from './lib/outage.js'
import { REDIS_TIMEOUT_MS as TIMEOUT_MS } from './lib/redis.js'
import { formatNs, formatOps, formatRatio, ratioTo, type TargetOutcome } from './lib/report.js'
import type { ProbeResult, ScenarioResult } from './lib/suite.js'
import { STAMPEDE_DISTRIBUTED, STAMPEDE_LAYERCACHE } from './suites/stampede.js'
import { formatDuration, GET_ONE_TAG, GET_THREE_TAGS } from './suites/tags.js'

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
  outcomes.push(...tagTargets(results, probes))
  outcomes.push(...stampedeTargets(probes))
  outcomes.push(busTarget(probes))
  outcomes.push(...wrapManyTargets(results))
  return outcomes
}

/** Least speed-up of one `wrapMany` of 100 keys over 100 awaited `wrap` calls, per case. */
const WRAP_MANY_SPEEDUP = { 'wrap-many-l2': 5, 'wrap-many-miss': 3 } as const
/** Most a `wrapMany` of 100 hits may cost over a `getMany` of them (its loader machinery). */
const WRAP_MANY_OVER_GET_MANY = 1.2

/**
 * `wrapMany` of 100 keys against 100 awaited `wrap` calls (memory + Redis): keys in Redis but
 * cold in memory, and keys no layer has; and what it costs over `getMany` when all are hits.
 */
function wrapManyTargets(results: readonly ScenarioResult[]): TargetOutcome[] {
  const outcomes: TargetOutcome[] = []
  for (const [id, limit] of Object.entries(WRAP_MANY_SPEEDUP)) {
    const label = id === 'wrap-many-l2' ? 'keys in Redis, cold in memory' : 'keys no layer has'
    const name = `layercache wrapMany of 100 keys (${label}) >= ${limit}x faster than 100 awaited wrap calls`
    const found = ratioOf(results, id, '100 awaited wrap')
    if (!found) outcomes.push(skip(name, id))
    else
      outcomes.push({
        name,
        status: found.ratio >= limit ? 'PASS' : 'MISS',
        detail: `${formatRatio(found.ratio)} round by round (medians ${formatNs(found.value)} vs ${formatNs(found.reference)} ns per batch; need ${limit}x)`,
      })
  }
  const name = `layercache wrapMany of 100 hits (Redis, cold memory) <= ${WRAP_MANY_OVER_GET_MANY}x getMany of them`
  const getMany = ratioOf(results, 'wrap-many-l2', 'layercache getMany (no loader)')
  if (!getMany) outcomes.push(skip(name, 'wrap-many-l2'))
  else {
    // The baseline is wrapMany: getMany's ratio to it, inverted.
    const ratio = 1 / getMany.ratio
    outcomes.push({
      name,
      status: ratio <= WRAP_MANY_OVER_GET_MANY ? 'PASS' : 'MISS',
      detail: `${formatRatio(ratio)} round by round (medians ${formatNs(getMany.reference)} vs ${formatNs(getMany.value)} ns per batch; limit ${WRAP_MANY_OVER_GET_MANY}x)`,
    })
  }
  return outcomes
}

/** Stampede: exactly one factory run in every round; early refresh: fewer calls wait. */
function stampedeTargets(probes: readonly ProbeResult[]): TargetOutcome[] {
  const outcomes: TargetOutcome[] = []
  for (const [id, contender, label] of [
    ['stampede-1x1000', STAMPEDE_LAYERCACHE, '1 process x 1,000 concurrent wraps'],
    [
      'stampede-2x500',
      STAMPEDE_DISTRIBUTED,
      "2 processes x 500 concurrent wraps, lock: 'distributed'",
    ],
  ] as const) {
    const name = `layercache ${label} of a cold key (factory 50 ms): exactly 1 factory run`
    const figures = probes.find((probe) => probe.id === id)?.figures
    if (!figures) {
      outcomes.push(skip(name, id))
      continue
    }
    const min = figures[`${contender}: runs min`]
    const max = figures[`${contender}: runs max`]
    const failed = figures[`${contender}: failed`]
    const ms = figures[`${contender}: ms`]
    if (min === undefined || max === undefined) {
      outcomes.push({ name, status: 'MISS', detail: 'no figures: its setup failed (see above)' })
      continue
    }
    const ok = min === 1 && max === 1 && failed === 0
    outcomes.push({
      name,
      status: ok ? 'PASS' : 'MISS',
      detail: `${min === max ? min : `${min}-${max}`} run(s) per round, ${failed} failed calls, median total ${formatMs(ms)}`,
    })
  }

  const steadyName =
    'layercache steady Zipf load: fewer calls wait on a factory with earlyRefresh than without'
  const steady = probes.find((probe) => probe.id === 'steady-zipf')?.figures
  const off = steady?.['waited off']
  const on = steady?.['waited on']
  if (!steady) outcomes.push(skip(steadyName, 'steady-zipf'))
  else if (off === undefined || on === undefined || off === 0)
    outcomes.push({ name: steadyName, status: 'MISS', detail: 'no figures (see above)' })
  else
    outcomes.push({
      name: steadyName,
      status: on < off ? 'PASS' : 'MISS',
      detail: `${(on * 100).toFixed(2)}% vs ${(off * 100).toFixed(2)}% of calls = ${formatRatio(on / off)}; p99 ${formatMs(steady['p99 on'])} vs ${formatMs(steady['p99 off'])}`,
    })
  return outcomes
}

/** Most an invalidateTags call may take (median), whatever the number of entries. */
const INVALIDATE_LIMIT_MS = 2
/** Most the median may grow with 10x the entries: flat, give or take noise. */
const FLAT_LIMIT = 2
/** Most a get hit of a tagged L1 entry may cost, relative to an untagged one. */
const TAGGED_HIT_LIMIT = 1.3

function tagTargets(
  results: readonly ScenarioResult[],
  probes: readonly ProbeResult[],
): TargetOutcome[] {
  const outcomes: TargetOutcome[] = []
  const invalidate = probes.find((probe) => probe.id === 'tags-invalidate')?.figures
  for (const [backend, small, large] of [
    ['memory', 100_000, 1_000_000],
    ['redis', 10_000, 100_000],
  ] as const) {
    const label = backend === 'memory' ? 'memory only' : 'tag state in Redis'
    const fast = `layercache invalidateTags median < ${INVALIDATE_LIMIT_MS} ms (${label}, ${small.toLocaleString('en-US')} and ${large.toLocaleString('en-US')} entries)`
    const flat = `layercache invalidateTags flat (${label}): 10x entries -> < ${FLAT_LIMIT}x time`
    const a = invalidate?.[`${backend} ${small}`]
    const b = invalidate?.[`${backend} ${large}`]
    if (a === undefined || b === undefined) {
      outcomes.push(skip(fast, 'tags-invalidate'), skip(flat, 'tags-invalidate'))
      continue
    }
    outcomes.push({
      name: fast,
      status: Math.max(a, b) < INVALIDATE_LIMIT_MS ? 'PASS' : 'MISS',
      detail: `medians ${formatDuration(a)} and ${formatDuration(b)} (limit ${INVALIDATE_LIMIT_MS} ms)`,
    })
    outcomes.push({
      name: flat,
      status: b / a < FLAT_LIMIT ? 'PASS' : 'MISS',
      detail: `${formatDuration(b)} / ${formatDuration(a)} = ${formatRatio(b / a)} (limit ${FLAT_LIMIT}x)`,
    })
  }

  for (const contender of [GET_ONE_TAG, GET_THREE_TAGS]) {
    const name = `layercache ${contender} hit (L1) <= ${TAGGED_HIT_LIMIT}x an untagged get hit`
    const found = ratioOf(results, 'tags-get', contender)
    if (!found) outcomes.push(skip(name, 'tags-get'))
    else
      outcomes.push({
        name,
        status: found.ratio <= TAGGED_HIT_LIMIT ? 'PASS' : 'MISS',
        detail: `${formatRatio(found.ratio)} round by round (medians ${formatNs(found.value)} vs ${formatNs(found.reference)} ns; limit ${TAGGED_HIT_LIMIT}x)`,
      })
  }

  const stale = probes.find((probe) => probe.id === 'tags-stale')?.figures
  const staleName =
    'layercache old values read on the invalidating instance right after invalidateTags: 0'
  const old = stale?.['layercache A']
  if (old === undefined) outcomes.push(skip(staleName, 'tags-stale'))
  else
    outcomes.push({
      name: staleName,
      status: old === 0 ? 'PASS' : 'MISS',
      detail: `${old} of 1000 (both rounds)`,
    })
  return outcomes
}

/** Least throughput of `set` with the bus on, relative to the same cache without a bus. */
const BUS_SET_LIMIT = 0.8

/** The bus costs layercache's `set` under 20% of its throughput (64 in flight, memory + Redis). */
function busTarget(probes: readonly ProbeResult[]): TargetOutcome {
  const name = `layercache set throughput (64 in flight, memory + Redis) with redisBus >= ${BUS_SET_LIMIT}x without`
  const figures = probes.find((probe) => probe.id === 'bus-set')?.figures
  if (!figures) return skip(name, 'bus-set')
  const ratio = figures['layercache on/off']
  const off = figures['layercache off ns']
  const on = figures['layercache on ns']
  if (ratio === undefined || off === undefined || on === undefined)
    return { name, status: 'MISS', detail: 'no figures (see above)' }
  const bento = figures['bentocache on/off']
  const problems = figures['layercache problems']
  return {
    name,
    status: ratio >= BUS_SET_LIMIT && problems === undefined ? 'PASS' : 'MISS',
    detail: `${formatRatio(ratio)} round by round (medians ${formatOps(on)} vs ${formatOps(off)} ops/s; need ${BUS_SET_LIMIT}x)${bento === undefined ? '' : `; bentocache's bus: ${formatRatio(bento)}`}${problems === undefined ? '' : '; its checks failed, see WARNING above'}`,
  }
}
