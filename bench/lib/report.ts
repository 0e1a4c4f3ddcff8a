import { type Measurement, median } from './measure.js'
import type { Scenario, ScenarioResult } from './suite.js'

/** The verdict of one target check. A MISS is reported, never turned into a failing exit code. */
export interface TargetOutcome {
  name: string
  status: 'PASS' | 'MISS' | 'SKIP'
  detail: string
}

/** ns as printed: one decimal below 100 ns, whole numbers with separators above. */
export function formatNs(ns: number): string {
  return ns < 100 ? ns.toFixed(1) : Math.round(ns).toLocaleString('en-US')
}

/** A ratio as printed, e.g. `4.2x`. */
export function formatRatio(ratio: number): string {
  return `${ratio < 10 ? ratio.toFixed(2) : ratio.toFixed(1)}x`
}

function row(cells: readonly string[], widths: readonly number[]): string {
  const padded = cells.map((cell, i) =>
    i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!),
  )
  return `| ${padded.join(' | ')} |`
}

/**
 * How `result` compares with `baseline`: ns/op relative to the baseline's (above 1 is slower),
 * or for calls in flight, throughput relative to the baseline's (above 1 is faster). When the
 * contenders took turns, this is the median of the ratios of rounds that ran side by side
 * (round i of each), which cancels drifts of the machine that a ratio of medians keeps.
 */
export function ratioTo(result: Measurement, baseline: Measurement, scenario: Scenario): number {
  const windowed = (scenario.options.concurrency ?? 1) > 1
  const ratio = (ns: number, baseNs: number) => (windowed ? baseNs / ns : ns / baseNs)
  if (!scenario.interleave || result.perRound.length !== baseline.perRound.length)
    return ratio(result.nsPerOp, baseline.nsPerOp)
  const paired = result.perRound.map((ns, i) => ratio(ns, baseline.perRound[i]!))
  return median(paired.sort((a, b) => a - b))
}

/** ops/s as printed, whole numbers with separators. */
export function formatOps(ns: number): string {
  return Math.round(1e9 / ns).toLocaleString('en-US')
}

/**
 * Prints one scenario as a Markdown table: contender, median ns/op, ratio to baseline, spread.
 * With calls in flight (`concurrency` above 1) it prints throughput instead: median ops/s, and
 * the ratio of each contender's throughput to the baseline's (above 1 is faster). `showCpu`
 * adds the CPU time per call.
 */
export function printScenario({ scenario, results, problems }: ScenarioResult): void {
  const baseline = results.find((result) => result.name === scenario.baseline)
  const { iterations, rounds, roundMs = 50, concurrency = 1 } = scenario.options
  const windowed = concurrency > 1
  const header = windowed
    ? ['contender', 'ops/s (median)', 'x baseline', 'rounds min-max ops/s', 'calls/round']
    : ['contender', 'ns/op (median)', 'x baseline', 'rounds min-max ns', 'calls/round']
  const rows = results.map((result) => [
    result.name,
    windowed ? formatOps(result.nsPerOp) : formatNs(result.nsPerOp),
    baseline ? formatRatio(ratioTo(result, baseline, scenario)) : '-',
    windowed
      ? `${formatOps(result.maxNs)}-${formatOps(result.minNs)}`
      : `${formatNs(result.minNs)}-${formatNs(result.maxNs)}`,
    result.iterations.toLocaleString('en-US'),
  ])
  if (scenario.showCpu) {
    header.splice(3, 0, 'CPU ns/op')
    rows.forEach((row, i) => {
      row.splice(3, 0, formatNs(results[i]!.cpuNsPerOp))
    })
  }
  const calls = windowed
    ? `${iterations.toLocaleString('en-US')} calls with ${concurrency} in flight`
    : `${iterations.toLocaleString('en-US')} awaited calls`
  const notes = [
    scenario.interleave ? 'contenders take turns, one round each' : '',
    `x baseline is ${windowed ? 'throughput' : 'time'} relative to the baseline${scenario.interleave ? ', the median of round-by-round ratios' : ''}${windowed ? ' (above 1 is faster)' : ''}`,
  ].filter((note) => note !== '' && (scenario.interleave || windowed))
  console.log(`\n### ${scenario.title} [${scenario.id}]`)
  console.log(
    `baseline: ${scenario.baseline}; median of ${rounds} rounds, each ${calls} or ~${roundMs} ms, whichever is fewer${notes.map((note) => `; ${note}`).join('')}\n`,
  )
  printTable(header, rows)
  for (const problem of problems) console.log(`WARNING ${problem}`)
}

/** Prints a Markdown table, the first column left-aligned and the others right-aligned. */
export function printTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  widths = header.map((cell, i) => Math.max(cell.length, ...rows.map((r) => r[i]!.length))),
): void {
  console.log(row(header, widths))
  console.log(
    `|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`,
  )
  for (const r of rows) console.log(row(r, widths))
}

/** Prints one line per target: PASS, MISS or SKIP (scenario filtered out), with the figures. */
export function printTargets(outcomes: readonly TargetOutcome[]): void {
  console.log('\n### Targets\n')
  for (const { name, status, detail } of outcomes)
    console.log(`${status.padEnd(4)}  ${name}: ${detail}`)
}
