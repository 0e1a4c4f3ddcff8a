import type { ScenarioResult } from './suite.js'

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

/** Prints one scenario as a Markdown table: contender, median ns/op, ratio to baseline, spread. */
export function printScenario({ scenario, results, problems }: ScenarioResult): void {
  const baseline = results.find((result) => result.name === scenario.baseline)
  const header = ['contender', 'ns/op (median)', 'x baseline', 'rounds min-max ns', 'calls/round']
  const rows = results.map((result) => [
    result.name,
    formatNs(result.nsPerOp),
    baseline ? formatRatio(result.nsPerOp / baseline.nsPerOp) : '-',
    `${formatNs(result.minNs)}-${formatNs(result.maxNs)}`,
    result.iterations.toLocaleString('en-US'),
  ])
  const widths = header.map((cell, i) => Math.max(cell.length, ...rows.map((r) => r[i]!.length)))
  const { iterations, rounds, roundMs = 50 } = scenario.options
  console.log(`\n### ${scenario.title} [${scenario.id}]`)
  console.log(
    `baseline: ${scenario.baseline}; median of ${rounds} rounds, each ${iterations.toLocaleString('en-US')} awaited calls or ~${roundMs} ms, whichever is fewer\n`,
  )
  console.log(row(header, widths))
  console.log(
    `|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`,
  )
  for (const r of rows) console.log(row(r, widths))
  for (const problem of problems) console.log(`WARNING ${problem}`)
}

/** Prints one line per target: PASS, MISS or SKIP (scenario filtered out), with the figures. */
export function printTargets(outcomes: readonly TargetOutcome[]): void {
  console.log('\n### Targets\n')
  for (const { name, status, detail } of outcomes)
    console.log(`${status.padEnd(4)}  ${name}: ${detail}`)
}
