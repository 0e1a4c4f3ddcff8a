import {
  type Measurement,
  type MeasureOptions,
  measure,
  type Operation,
  type Timer,
  timer,
} from './measure.js'

/** A contender ready to be timed: its operation, a sanity check and how to release it. */
export interface Subject {
  /** The awaited call being timed. */
  op: Operation
  /** Runs after timing; returns a problem when the run did not measure what it claims. */
  check?(): Promise<string | undefined> | string | undefined
  /** Releases the cache (timers, stores) so the process can exit by itself. */
  close?(): Promise<unknown> | unknown
}

/** One library (or configuration of it) in a scenario. Set up lazily, just before it runs. */
export interface Contender {
  name: string
  setup(): Promise<Subject> | Subject
}

/** One question asked of every contender, e.g. "awaited get-or-set hit". */
export interface Scenario {
  /** Short id, used by the CLI filter and the target checks. */
  id: string
  title: string
  /** Name of the contender every ratio is relative to. */
  baseline: string
  options: MeasureOptions
  contenders: Contender[]
  /**
   * Set every contender up first, then time them in turns, one round each (in a rotating
   * order), so that a drift of the machine or network during the run hits all of them alike.
   * For scenarios whose calls wait on I/O, where such drifts are larger than the differences.
   */
  interleave?: boolean
  /** Print the CPU time per call beside the wall time (for calls that wait on I/O). */
  showCpu?: boolean
}

/**
 * A scenario that is not a timing loop (e.g. latencies of a few calls during an outage): it
 * runs on its own, prints its own report, and returns named figures for the target checks.
 */
export interface Probe {
  id: string
  title: string
  run(): Promise<ProbeResult>
}

/** What a probe measured, by figure name (undefined when it could not be measured). */
export interface ProbeResult {
  id: string
  figures: Record<string, number | undefined>
}

/** A group of scenarios in one file; the CLI filters on its name. */
export interface Suite {
  name: string
  scenarios(): (Scenario | Probe)[]
}

/** Whether a listed scenario is a probe rather than a timing loop. */
export function isProbe(scenario: Scenario | Probe): scenario is Probe {
  return 'run' in scenario
}

/** What a scenario produced. */
export interface ScenarioResult {
  scenario: Scenario
  results: Measurement[]
  problems: string[]
}

/** Runs each contender in turn: set up, time, check, close (closed even when timing fails). */
export async function runScenario(scenario: Scenario): Promise<ScenarioResult> {
  if (scenario.interleave) return runInterleaved(scenario)
  const results: Measurement[] = []
  const problems: string[] = []
  for (const contender of scenario.contenders) {
    const subject = await contender.setup()
    try {
      results.push(await measure(contender.name, subject.op, scenario.options))
      const problem = await subject.check?.()
      if (problem) problems.push(`${contender.name}: ${problem}`)
    } finally {
      await subject.close?.()
    }
  }
  return { scenario, results, problems }
}

/** Sets all contenders up, warms each, times them round-robin, then checks and closes all. */
async function runInterleaved(scenario: Scenario): Promise<ScenarioResult> {
  const problems: string[] = []
  const subjects: { name: string; subject: Subject; timed: Timer }[] = []
  try {
    for (const contender of scenario.contenders) {
      const subject = await contender.setup()
      subjects.push({
        name: contender.name,
        subject,
        timed: timer(contender.name, subject.op, scenario.options),
      })
    }
    for (const { timed } of subjects) await timed.warmup()
    for (let round = 0; round < scenario.options.rounds; round++) {
      for (let i = 0; i < subjects.length; i++)
        await subjects[(round + i) % subjects.length]!.timed.round()
    }
    for (const { name, subject } of subjects) {
      const problem = await subject.check?.()
      if (problem) problems.push(`${name}: ${problem}`)
    }
  } finally {
    for (const { subject } of subjects) await subject.close?.()
  }
  return { scenario, results: subjects.map(({ timed }) => timed.result()), problems }
}

/** `count` distinct keys with a prefix, e.g. `user:0` .. `user:1023`, already hashed. */
export function makeKeys(prefix: string, count: number): string[] {
  const keys = Array.from({ length: count }, (_, i) => `${prefix}:${i}`)
  // V8 hashes a string on its first Map lookup and keeps the hash. Hash them all now, or the
  // first contender to see each key pays for it and every later one does not.
  new Set(keys)
  return keys
}

/** An async factory that counts its calls, so a suite can tell hits from misses afterwards. */
export function countingFactory<T>(value: T): { factory: () => Promise<T>; calls: () => number } {
  let calls = 0
  return {
    factory: async () => {
      calls++
      return value
    },
    calls: () => calls,
  }
}
