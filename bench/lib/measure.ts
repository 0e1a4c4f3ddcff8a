import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

/** How long and how often a contender runs. */
export interface MeasureOptions {
  /** Calls per round (each call awaited before the next); fewer for slow contenders, see `roundMs`. */
  iterations: number
  /** Timed rounds; the reported figure is their median. */
  rounds: number
  /**
   * Target duration of a round. A contender too slow to make `iterations` calls in this time
   * gets fewer calls per round (never under 1,000), so slow libraries do not stretch the run.
   * Default 50.
   */
  roundMs?: number
}

/** One contender's result. */
export interface Measurement {
  name: string
  /** Median ns per awaited call across rounds. */
  nsPerOp: number
  /** Fastest and slowest round, ns per call: how noisy the median is. */
  minNs: number
  maxNs: number
  /** Calls per timed round actually made. */
  iterations: number
  rounds: number
}

/** One awaited call; `n` counts calls across warm-up and rounds (0, 1, 2, ...). */
export type Operation = (n: number) => Promise<unknown> | unknown

type Loop = (fn: Operation, start: number, iterations: number) => Promise<void>

// Every contender gets its own freshly compiled loop: a loop shared by all contenders would see
// many callees, turn its call site megamorphic, and make whoever ran first (the baseline) look
// cheaper than the rest for reasons that have nothing to do with the cache.
const LOOP_SOURCE = `return async function loop(fn, start, iterations) {
  const end = start + iterations
  for (let n = start; n < end; n++) await fn(n)
}`

function freshLoop(): Loop {
  return new Function(LOOP_SOURCE)() as Loop
}

// A full GC before each round, so one contender's garbage is not collected on the next one's
// clock. Garbage a contender makes during its own round is still collected on its clock.
setFlagsFromString('--expose-gc')
const collect = runInNewContext('gc') as (() => void) | undefined

const WARMUP_CHUNK = 500
const MIN_ITERATIONS = 1000

/** Most calls `measure` makes with these options (warm-up included): size key lists with it. */
export function totalCalls(options: MeasureOptions): number {
  return options.iterations * (options.rounds + 1)
}

/**
 * Times `fn` awaited in a loop: a warm-up (at most `iterations` calls or two round-lengths,
 * which also sizes the rounds), then `rounds` timed rounds. Returns the median ns/op.
 */
export async function measure(
  name: string,
  fn: Operation,
  options: MeasureOptions,
): Promise<Measurement> {
  const { rounds, roundMs = 50 } = options
  const loop = freshLoop()
  // Warm up in chunks until the JIT has had two round-lengths or a full round of calls.
  let n = 0
  const warmupStart = process.hrtime.bigint()
  let warmupNs = 0
  while (n < options.iterations && warmupNs < 2 * roundMs * 1e6) {
    const chunk = Math.min(WARMUP_CHUNK, options.iterations - n)
    await loop(fn, n, chunk)
    n += chunk
    warmupNs = Number(process.hrtime.bigint() - warmupStart)
  }
  const estimate = warmupNs / n
  const iterations = Math.max(
    Math.min(options.iterations, Math.round((roundMs * 1e6) / estimate)),
    Math.min(MIN_ITERATIONS, options.iterations),
  )
  const perOp: number[] = []
  for (let i = 0; i < rounds; i++) {
    collect?.()
    const start = process.hrtime.bigint()
    await loop(fn, n, iterations)
    const elapsed = process.hrtime.bigint() - start
    n += iterations
    perOp.push(Number(elapsed) / iterations)
  }
  perOp.sort((a, b) => a - b)
  return {
    name,
    nsPerOp: median(perOp),
    minNs: perOp[0]!,
    maxNs: perOp[perOp.length - 1]!,
    iterations,
    rounds,
  }
}

function median(sorted: readonly number[]): number {
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}
