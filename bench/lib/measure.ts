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
  /**
   * Calls kept in flight at once (a sliding window: each call that settles starts the next).
   * Default 1: each call awaited before the next. Above 1 the figure is throughput, reported
   * as ops/s; `nsPerOp` is then the round's duration divided by its calls.
   */
  concurrency?: number
}

/** One contender's result. */
export interface Measurement {
  name: string
  /** Median ns per awaited call across rounds. */
  nsPerOp: number
  /** Fastest and slowest round, ns per call: how noisy the median is. */
  minNs: number
  maxNs: number
  /**
   * Median CPU time (user + system, all threads of this process) per call, ns. Below `nsPerOp`
   * when calls wait on I/O: the rest is time spent waiting (here, on Redis and the network).
   */
  cpuNsPerOp: number
  /** ns per call of each round, in the order they ran. */
  perRound: readonly number[]
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

// The same for a window of calls in flight; WINDOW is replaced by the window size.
const WINDOW_SOURCE = `return function loop(fn, start, iterations) {
  return new Promise((resolve, reject) => {
    const end = start + iterations
    let next = start
    let active = 0
    let failed = false
    const fail = (error) => {
      failed = true
      reject(error)
    }
    const settle = () => {
      active--
      if (failed) return
      if (next < end) launch()
      else if (active === 0) resolve()
    }
    const launch = () => {
      active++
      let result
      try {
        result = fn(next++)
      } catch (error) {
        fail(error)
        return
      }
      Promise.resolve(result).then(settle, fail)
    }
    while (active < WINDOW && next < end) launch()
    if (iterations <= 0) resolve()
  })
}`

function freshLoop(concurrency = 1): Loop {
  const source =
    concurrency > 1 ? WINDOW_SOURCE.replace('WINDOW', String(Math.floor(concurrency))) : LOOP_SOURCE
  return new Function(source)() as Loop
}

// A minor GC (a scavenge of the young generation) before each round, so one contender's
// garbage is not collected on the next one's clock. Garbage a contender makes during its own
// round is still collected on its clock. Not a full GC: a full one compacts and shrinks the
// heap, and every round after it paid to grow the heap back, more so for the contender that
// allocates more: over Redis, rounds then spread from ~28 to ~100 µs per call and every
// contender used ~50% more CPU per call than in steady state (docs/benchmarks.md).
setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as ((options: { type: 'minor' | 'major' }) => void) | undefined
const collect = gc && (() => gc({ type: 'minor' }))

const WARMUP_CHUNK = 500
const MIN_ITERATIONS = 1000

/** Most calls `measure` makes with these options (warm-up included): size key lists with it. */
export function totalCalls(options: MeasureOptions): number {
  return options.iterations * (options.rounds + 1)
}

/** A contender being timed round by round (so that several can take turns, see `interleave`). */
export interface Timer {
  /** Warms up (at most `iterations` calls or two round-lengths), which also sizes the rounds. */
  warmup(): Promise<void>
  /** One timed round, after a full GC. */
  round(): Promise<void>
  /** The median and spread of the rounds so far. */
  result(): Measurement
}

/** A {@link Timer} for `fn` with its own freshly compiled loop. */
export function timer(name: string, fn: Operation, options: MeasureOptions): Timer {
  const { roundMs = 50 } = options
  const loop = freshLoop(options.concurrency)
  let n = 0
  let iterations = 0
  const perOp: number[] = []
  const cpuPerOp: number[] = []
  return {
    async warmup() {
      // Warm up in chunks until the JIT has had two round-lengths or a full round of calls.
      const warmupStart = process.hrtime.bigint()
      let warmupNs = 0
      while (n < options.iterations && warmupNs < 2 * roundMs * 1e6) {
        const chunk = Math.min(WARMUP_CHUNK, options.iterations - n)
        await loop(fn, n, chunk)
        n += chunk
        warmupNs = Number(process.hrtime.bigint() - warmupStart)
      }
      const estimate = warmupNs / n
      iterations = Math.max(
        Math.min(options.iterations, Math.round((roundMs * 1e6) / estimate)),
        Math.min(MIN_ITERATIONS, options.iterations),
      )
    },
    async round() {
      collect?.()
      const cpu = process.cpuUsage()
      const start = process.hrtime.bigint()
      await loop(fn, n, iterations)
      const elapsed = process.hrtime.bigint() - start
      const { user, system } = process.cpuUsage(cpu)
      n += iterations
      perOp.push(Number(elapsed) / iterations)
      cpuPerOp.push(((user + system) * 1000) / iterations)
    },
    result() {
      const sorted = [...perOp].sort((a, b) => a - b)
      return {
        name,
        nsPerOp: median(sorted),
        minNs: sorted[0]!,
        maxNs: sorted[sorted.length - 1]!,
        cpuNsPerOp: median([...cpuPerOp].sort((a, b) => a - b)),
        perRound: [...perOp],
        iterations,
        rounds: perOp.length,
      }
    },
  }
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
  const timed = timer(name, fn, options)
  await timed.warmup()
  for (let i = 0; i < options.rounds; i++) await timed.round()
  return timed.result()
}

/** The median of numbers sorted ascending. */
export function median(sorted: readonly number[]): number {
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}
