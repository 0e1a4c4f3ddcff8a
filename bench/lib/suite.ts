import { type Measurement, type MeasureOptions, measure, type Operation } from './measure.js'

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
}

/** A group of scenarios in one file; the CLI filters on its name. */
export interface Suite {
  name: string
  scenarios(): Scenario[]
}

/** What a scenario produced. */
export interface ScenarioResult {
  scenario: Scenario
  results: Measurement[]
  problems: string[]
}

/** Runs each contender in turn: set up, time, check, close (closed even when timing fails). */
export async function runScenario(scenario: Scenario): Promise<ScenarioResult> {
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
