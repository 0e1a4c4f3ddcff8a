import { type ChildProcess, fork } from 'node:child_process'
import { setPriority } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { Redis } from 'ioredis'
import {
  BENTO_CHANNEL,
  type BusLibrary,
  bentocacheBus,
  type FromBusWorker,
  layercacheBus,
  type Removal,
  type ToBusWorker,
  until,
} from '../lib/bus.js'
import type { MeasureOptions } from '../lib/measure.js'
import { formatMs } from '../lib/outage.js'
import { type Product, productOf, redisServer } from '../lib/redis.js'
import {
  formatNs,
  formatOps,
  formatRatio,
  printScenario,
  printTable,
  ratioTo,
} from '../lib/report.js'
import { epochMs } from '../lib/stampede.js'
import {
  type Contender,
  makeKeys,
  type Probe,
  type ProbeResult,
  runScenario,
  type Scenario,
  type Subject,
  type Suite,
} from '../lib/suite.js'
import { IN_FLIGHT } from './redis-set.js'

// The invalidation bus, layercache's (`redisBus`) and bentocache's (`redisBusDriver`):
// - bus-latency: how long after one instance deletes or invalidates a value the other
//   instances stop returning it (each instance in its own child process, all on the run's
//   Redis), and how long an acknowledged invalidation takes;
// - bus-set: what the bus costs a `set` (64 in flight, memory + Redis), bus off against on.

/** The contenders the target checks look for. */
export const BUS_SET_LAYERCACHE_OFF = 'layercache set, no bus'
export const BUS_SET_LAYERCACHE_ON = 'layercache set, redisBus'
export const BUS_SET_BENTO_OFF = 'bentocache set (L1 + L2), no bus'
export const BUS_SET_BENTO_ON = 'bentocache set (L1 + L2), redisBusDriver'

const runTag = Date.now().toString(36)
const message = (error: unknown) => (error instanceof Error ? error.message : String(error))

// --- bus-latency: instances in child processes ------------------------------------------------

/** Instances: one writes and removes, the others read. */
const INSTANCES = 3
/**
 * Niceness of the reading instances. On a 2-core machine a reader spinning on a key at normal
 * priority competes for a core with the writer, Redis and this process: with it, the writer's
 * own DEL took a scheduler tick (~4 ms) in up to 1 round of 10, against under 1 in 100 with
 * no reader spinning. At nice 19 the spinning reader still gets whatever CPU is idle (nearly a
 * whole core) but yields it to the others as soon as they need it.
 */
const READER_NICE = 19
/** Rounds per case (after WARMUP_ROUNDS unrecorded ones), each on a fresh key and tag. */
const ROUNDS = 400
const WARMUP_ROUNDS = 20
/** Pause after the write of a round, so that its own bus message has reached the others. */
const SETTLE_MS = 2
/** A reader that still sees the value this long after it started watching gives up (missed). */
const WATCH_LIMIT_MS = 1_000
/** A worker that does not answer within this long is given up on. */
const ANSWER_MS = 20_000

interface LatencyCase {
  name: string
  library: BusLibrary
  how: Removal
  acknowledge: boolean
}

const CASES: LatencyCase[] = [
  { name: 'layercache delete', library: 'layercache', how: 'delete', acknowledge: false },
  {
    name: 'layercache invalidateTags',
    library: 'layercache',
    how: 'invalidateTags',
    acknowledge: false,
  },
  {
    name: 'layercache invalidateTags { acknowledge: true }',
    library: 'layercache',
    how: 'invalidateTags',
    acknowledge: true,
  },
  {
    name: 'layercache delete { acknowledge: true }',
    library: 'layercache',
    how: 'delete',
    acknowledge: true,
  },
  { name: 'bentocache delete', library: 'bentocache', how: 'delete', acknowledge: false },
]

type Answer<K extends FromBusWorker['type']> = Extract<FromBusWorker, { type: K }>

/** A forked worker (lib/bus-worker.ts) and its answers, one per request, in order. */
class Worker {
  readonly #child: ChildProcess
  readonly #waiting: ((answer: FromBusWorker | Error) => void)[] = []
  readonly exited: Promise<void>

  constructor() {
    const script = fileURLToPath(new URL('../lib/bus-worker.ts', import.meta.url))
    this.#child = fork(script, [], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    this.#child.on('message', (answer: FromBusWorker) => this.#waiting.shift()?.(answer))
    this.exited = new Promise((resolve) => {
      this.#child.once('exit', (code, signal) => {
        const gone = new Error(`worker exited (${signal ?? code})`)
        for (const waiter of this.#waiting.splice(0)) waiter(gone)
        resolve()
      })
    })
  }

  /** Sends `request`; resolves with the answer of type `type`, rejects on any other. */
  ask<K extends FromBusWorker['type']>(request: ToBusWorker, type: K): Promise<Answer<K>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('worker did not answer')), ANSWER_MS)
      this.#waiting.push((answer) => {
        clearTimeout(timer)
        if (answer instanceof Error) reject(answer)
        else if (answer.type === type) resolve(answer as Answer<K>)
        else if (answer.type === 'failed') reject(new Error(answer.message))
        else reject(new Error(`worker answered ${answer.type} to ${request.type}`))
      })
      this.#child.send(request)
    })
  }

  /** Lowers the worker's scheduling priority (nice `value`). */
  nice(value: number): void {
    try {
      if (this.#child.pid !== undefined) setPriority(this.#child.pid, value)
    } catch {
      // Not allowed here: the readers keep the normal priority (and the figures, more noise).
    }
  }

  /** Lets the worker exit (it exits on disconnect), killing it if it has not within 2 s. */
  async stop(): Promise<void> {
    if (this.#child.connected) this.#child.disconnect()
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 2_000)
    await this.exited
    clearTimeout(timer)
  }
}

/** What one case measured. */
interface CaseResult {
  case: LatencyCase
  /** From the call (writer) to the read that no longer returned the value resolving (reader), ms. */
  seen: number[]
  /** From the call to the start of that read, ms: the change was applied there by then. */
  applied: number[]
  /** Watched reads that still returned the value after WATCH_LIMIT_MS. */
  missed: number
  /** Duration of the invalidating call itself (writer), ms. */
  calls: number[]
  /** Calls that threw (acknowledged calls: not every instance answered in time), first error. */
  failed: number
  firstError?: string
  /** Readers that could not be warmed (the round was skipped), or not armed (first read). */
  cold: number
  /**
   * Reads of the old value after the fact: acknowledged, on every reader once the call
   * returned; otherwise on the readers that did not watch, once the watcher saw it go.
   */
  oldAfter: number
  /** Setup failed: no rounds. */
  setupFailed?: string
}

/** A worker's clock minus this process's, ms, and the round trip it was measured in. */
interface Clock {
  offset: number
  rtt: number
}

/**
 * Clock offsets of the workers against this process, estimated by IPC pings (the one with
 * the shortest round trip of 20): the shared clock is `performance.timeOrigin + now()`, set
 * per process at its start, so this checks it agrees across processes.
 */
async function clockOffsets(workers: readonly Worker[]): Promise<Clock[]> {
  const out: Clock[] = []
  for (const worker of workers) {
    let best: Clock = { offset: 0, rtt: Number.POSITIVE_INFINITY }
    for (let i = 0; i < 20; i++) {
      const sent = epochMs()
      const { at } = await worker.ask({ type: 'clock' }, 'clock')
      const back = epochMs()
      if (back - sent < best.rtt) best = { offset: at - (sent + back) / 2, rtt: back - sent }
    }
    out.push(best)
  }
  return out
}

async function runCase(
  c: LatencyCase,
  index: number,
  writer: Worker,
  readers: readonly Worker[],
  result: CaseResult,
): Promise<void> {
  for (let r = -WARMUP_ROUNDS; r < ROUNDS; r++) {
    const record = r >= 0
    const key = `bus:${runTag}:${index}:${r}`
    const tag = `bus-tag:${runTag}:${index}:${r}`
    await writer.ask({ type: 'set', key, round: r, tag }, 'done')
    await sleep(SETTLE_MS)
    const warmed = await Promise.all(
      readers.map((w) => w.ask({ type: 'warm', key, round: r }, 'warmed')),
    )
    if (warmed.some((w) => !w.ok)) {
      if (record) result.cold += warmed.filter((w) => !w.ok).length
      continue
    }
    const remove: ToBusWorker = {
      type: 'remove',
      how: c.how,
      key,
      tag,
      acknowledge: c.acknowledge,
    }
    const check = (w: Worker) => w.ask({ type: 'check', key, round: r }, 'checked')
    if (c.acknowledge) {
      // Nobody reads in a loop: the call's own duration, with every other instance idle.
      const removed = await writer.ask(remove, 'removed')
      const checks = await Promise.all(readers.map(check))
      if (!record) continue
      result.calls.push(removed.returnedAt - removed.sentAt)
      if (removed.error !== undefined) {
        result.failed++
        result.firstError ??= removed.error
      }
      result.oldAfter += checks.filter((answer) => answer.old).length
      continue
    }
    // One reader (each in turn) watches; the others are checked once it saw the value go.
    const watcher = readers[(r + WARMUP_ROUNDS) % readers.length]!
    const idle = readers.filter((w) => w !== watcher)
    const armed = await watcher.ask(
      { type: 'watch', key, round: r, limitMs: WATCH_LIMIT_MS },
      'armed',
    )
    const removed = await writer.ask(remove, 'removed')
    const { watch } = await watcher.ask({ type: 'collect' }, 'seen')
    const checks = await Promise.all(idle.map(check))
    if (!record) continue
    result.calls.push(removed.returnedAt - removed.sentAt)
    if (removed.error !== undefined) {
      result.failed++
      result.firstError ??= removed.error
    }
    result.oldAfter += checks.filter((answer) => answer.old).length
    if (!armed.ok) result.cold++
    else if (watch.seenAt === undefined || watch.missStartedAt === undefined) result.missed++
    else {
      result.seen.push(watch.seenAt - removed.sentAt)
      result.applied.push(watch.missStartedAt - removed.sentAt)
    }
  }
}

const emptyResult = (c: LatencyCase): CaseResult => ({
  case: c,
  seen: [],
  applied: [],
  missed: 0,
  calls: [],
  failed: 0,
  cold: 0,
  oldAfter: 0,
})

async function latencies(): Promise<{ results: CaseResult[]; clocks: Clock[] }> {
  const { url } = await redisServer()
  const workers = Array.from({ length: INSTANCES }, () => new Worker())
  const [writer, ...readers] = workers as [Worker, ...Worker[]]
  for (const reader of readers) reader.nice(READER_NICE)
  const results: CaseResult[] = []
  try {
    const clocks = await clockOffsets(workers)
    for (const library of ['layercache', 'bentocache'] as const) {
      const cases = CASES.filter((c) => c.library === library)
      const namespace = `bus-${runTag}-${library}`
      const setup = await Promise.allSettled(
        workers.map((w) => w.ask({ type: 'setup', library, url, namespace }, 'ready')),
      )
      const failed = setup.find((s) => s.status === 'rejected')
      try {
        if (failed) {
          for (const c of cases)
            results.push({ ...emptyResult(c), setupFailed: message(failed.reason) })
          continue
        }
        // bentocache's subscriber has no "ready" signal: give every instance time to subscribe.
        await sleep(100)
        for (const c of cases) {
          const result = emptyResult(c)
          results.push(result)
          await runCase(c, CASES.indexOf(c), writer, readers, result)
        }
      } finally {
        await Promise.allSettled(workers.map((w) => w.ask({ type: 'close' }, 'closed')))
      }
    }
    return { results, clocks }
  } finally {
    await Promise.all(workers.map((w) => w.stop()))
  }
}

/** The value at quantile `q` (nearest rank) of ascending `sorted`. */
function quantile(sorted: readonly number[], q: number): number | undefined {
  if (sorted.length === 0) return undefined
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]
}

const ascending = (values: readonly number[]) => [...values].sort((a, b) => a - b)
const ms = (value: number | undefined) => (value === undefined ? '-' : formatMs(value))

async function runLatency(): Promise<ProbeResult> {
  const started = Date.now()
  const { results, clocks } = await latencies()
  const figures: ProbeResult['figures'] = {}
  const propagation = results.filter((r) => !r.case.acknowledge)
  const acknowledged = results.filter((r) => r.case.acknowledge)

  console.log('\n### Invalidation bus: propagation latency [bus-latency]')
  console.log(
    `${INSTANCES} instances of each library, each in its own child process (node --import tsx): a memory layer over the run's Redis, and the library's Redis bus. Per round, on a fresh key (and tag): the first instance writes it; the ${INSTANCES - 1} others read it until their memory layer holds it; one of them (each in turn) starts reading it in a tight loop (one read per event-loop turn, setImmediate between reads, at nice ${READER_NICE}); the first instance removes it, without acknowledgement. Latency: from just before the removing call (on its clock) until the read that no longer returned the value resolved (on the reader's clock; both performance.timeOrigin + performance.now()). ${ROUNDS} rounds per row after ${WARMUP_ROUNDS} unrecorded ones; ${((Date.now() - started) / 1000).toFixed(1)} s in all\n`,
  )
  const header = [
    'contender',
    'samples',
    'p50',
    'p90',
    'p99',
    'max',
    'missing read started (p50)',
    'call itself (p50)',
    'missed',
    'other reader still old',
  ]
  printTable(
    header,
    propagation.map((r) => {
      if (r.setupFailed !== undefined) return header.map((_, i) => (i === 0 ? r.case.name : '-'))
      const seen = ascending(r.seen)
      return [
        r.case.name,
        String(seen.length),
        ms(quantile(seen, 0.5)),
        ms(quantile(seen, 0.9)),
        ms(quantile(seen, 0.99)),
        ms(seen[seen.length - 1]),
        ms(quantile(ascending(r.applied), 0.5)),
        ms(quantile(ascending(r.calls), 0.5)),
        String(r.missed),
        `${r.oldAfter} of ${r.calls.length * (INSTANCES - 2)}`,
      ]
    }),
  )
  console.log(
    '- missing read started: from the call until the start of the read that saw the value gone: the change had been applied on that instance by then (and not when the read before it started). The rest of the latency is that read, which went to Redis.',
  )
  console.log(
    '- call itself: how long the removing call took on the writer (layercache: its Redis DEL, or the tag move in Redis, then the bus message goes in the background; bentocache delete: its Redis DEL, then its PUBLISH, awaited).',
  )
  console.log(
    '- other reader still old: the reader that did not watch, read once after the watcher saw the value go.',
  )

  console.log('\n#### Acknowledged calls: their own duration')
  console.log(
    `Same rounds and instances, but nobody reads in a loop: the first instance calls with { acknowledge: true } (it resolves once every other instance listening applied the change) while the ${INSTANCES - 1} others are idle; then each of them reads the key once. ${ROUNDS} rounds per row; bentocache has no such option.\n`,
  )
  const ackHeader = ['call', 'samples', 'p50', 'p99', 'max', 'failed', 'old value read after']
  printTable(
    ackHeader,
    acknowledged.map((r) => {
      if (r.setupFailed !== undefined) return ackHeader.map((_, i) => (i === 0 ? r.case.name : '-'))
      const calls = ascending(r.calls)
      return [
        r.case.name,
        String(calls.length),
        ms(quantile(calls, 0.5)),
        ms(quantile(calls, 0.99)),
        ms(calls[calls.length - 1]),
        String(r.failed),
        `${r.oldAfter} of ${calls.length * (INSTANCES - 1)}`,
      ]
    }),
  )
  const [writerClock, ...readerClocks] = clocks as [Clock, ...Clock[]]
  const skews = readerClocks.map((c) => ({
    skew: c.offset - writerClock.offset,
    bound: (c.rtt + writerClock.rtt) / 2,
  }))
  const us = (value: number) => `${(value * 1000).toFixed(0)} µs`
  console.log(
    `\nClock check: each reader's clock minus the writer's, estimated by IPC pings (the shortest of 20 round trips each): ${skews.map(({ skew, bound }) => `${us(skew)} (± ${us(bound)})`).join(', ')}.`,
  )
  if (skews.some(({ skew, bound }) => Math.abs(skew) > bound))
    console.log("WARNING the processes' clocks disagree by more than the pings can tell apart")
  for (const r of results) {
    if (r.setupFailed !== undefined)
      console.log(`WARNING ${r.case.name}: setup failed: ${r.setupFailed.slice(0, 200)}`)
    if (r.cold > 0) console.log(`WARNING ${r.case.name}: ${r.cold} reader-rounds not warm, skipped`)
    if (r.missed > 0)
      console.log(
        `WARNING ${r.case.name}: ${r.missed} reads still saw the value after ${WATCH_LIMIT_MS} ms`,
      )
    if (r.failed > 0)
      console.log(`WARNING ${r.case.name}: ${r.failed} calls threw: ${r.firstError?.slice(0, 200)}`)
    if (r.oldAfter > 0)
      console.log(
        `WARNING ${r.case.name}: ${r.oldAfter} reads returned the old value after the fact (see above)`,
      )
    const seen = ascending(r.seen)
    const calls = ascending(r.calls)
    if (!r.case.acknowledge && seen.length > 0) {
      figures[`${r.case.name}: p50`] = quantile(seen, 0.5)
      figures[`${r.case.name}: p90`] = quantile(seen, 0.9)
      figures[`${r.case.name}: p99`] = quantile(seen, 0.99)
      figures[`${r.case.name}: max`] = seen[seen.length - 1]
      figures[`${r.case.name}: missed`] = r.missed
    }
    if (calls.length > 0) {
      figures[`${r.case.name}: call p50`] = quantile(calls, 0.5)
      figures[`${r.case.name}: call p99`] = quantile(calls, 0.99)
      figures[`${r.case.name}: failed`] = r.failed
      figures[`${r.case.name}: old after`] = r.oldAfter
    }
  }
  return { id: 'bus-latency', figures }
}

// --- bus-set: set throughput, bus off and on --------------------------------------------------

const KEY_COUNT = 4096
const MASK = KEY_COUNT - 1
let products: Product[] | undefined

/**
 * Whether a message reaches `channel` when `action` runs: a subscriber of its own listens for
 * up to a second. Shows that a contender's bus really publishes (after timing, so it costs
 * nothing while timed).
 */
async function heard(channel: string, action: () => Promise<unknown>): Promise<boolean> {
  const { host, port } = await redisServer()
  const listener = new Redis({ host, port, lazyConnect: true })
  listener.on('error', () => {})
  try {
    await listener.connect()
    let got = false
    listener.on('messageBuffer', () => {
      got = true
    })
    await listener.subscribe(channel)
    await action()
    await until(() => got, 'message', 1_000).catch(() => {})
    return got
  } finally {
    listener.disconnect()
  }
}

/** A set subject over 4,096 keys, cycling; the check reads one key back, and hears the bus. */
function setSubject(
  prefix: string,
  write: (key: string, product: Product) => Promise<unknown>,
  read: (key: string) => Promise<unknown>,
  close: () => Promise<unknown>,
  channel?: string,
  trouble?: () => string | undefined,
): Subject {
  const keys = makeKeys(`${prefix}:bus-set`, KEY_COUNT)
  const values = products!
  return {
    op: (n) => write(keys[n & MASK]!, values[n & MASK]!),
    async check() {
      const value = (await read(keys[5]!)) as Product | undefined
      if (value?.id !== 5) return `read back ${JSON.stringify(value)} after set`
      const problem = trouble?.()
      if (problem !== undefined) return problem
      if (channel !== undefined && !(await heard(channel, () => write(keys[6]!, values[6]!))))
        return `no bus message on ${channel} after a set`
      return undefined
    },
    close,
  }
}

function setContenders(): Contender[] {
  const layercache = (withBus: boolean): Contender => ({
    name: withBus ? BUS_SET_LAYERCACHE_ON : BUS_SET_LAYERCACHE_OFF,
    async setup() {
      const { url } = await redisServer()
      const { cache, bus } = await layercacheBus(url, `bus-set-${withBus ? 'on' : 'off'}`, withBus)
      return setSubject(
        'lc',
        (key, product) => cache.set(key, product),
        (key) => cache.get(key),
        () => cache.close(),
        bus?.channel,
        () => {
          // A bus that went down meanwhile would have queued its messages instead of sending.
          const { errors } = cache.stats()
          if (errors > 0) return `${errors} errors reported while timed (bus or Redis)`
          if (bus && !bus.connected) return 'the bus is not connected after timing'
          return undefined
        },
      )
    },
  })
  const bentocache = (withBus: boolean): Contender => ({
    name: withBus ? BUS_SET_BENTO_ON : BUS_SET_BENTO_OFF,
    async setup() {
      const { url } = await redisServer()
      const bento = bentocacheBus(url, withBus)
      return setSubject(
        `bento-${withBus ? 'on' : 'off'}`,
        (key, product) => bento.set({ key, value: product }),
        (key) => bento.get({ key }),
        () => bento.disconnectAll(),
        withBus ? BENTO_CHANNEL : undefined,
      )
    },
  })
  return [layercache(false), layercache(true), bentocache(false), bentocache(true)]
}

/** 21 rounds, as redis-set-64: the rounds over Redis vary by +-30% here. */
const SET_OPTIONS: MeasureOptions = {
  iterations: 100_000,
  rounds: 21,
  roundMs: 100,
  concurrency: IN_FLIGHT,
}

function setScenario(): Scenario {
  return {
    id: 'bus-set',
    title: `Set throughput with ${IN_FLIGHT} calls in flight, memory + Redis, bus off and on (4,096 keys)`,
    baseline: BUS_SET_LAYERCACHE_OFF,
    options: SET_OPTIONS,
    contenders: setContenders(),
    interleave: true,
    showCpu: true,
  }
}

/** A difference in ns as printed, with its sign. */
const signed = (ns: number) => `${ns < 0 ? '-' : '+'}${formatNs(Math.abs(ns))}`

async function runSet(): Promise<ProbeResult> {
  products ??= Array.from({ length: KEY_COUNT }, (_, i) => productOf(i))
  const scenario = setScenario()
  const result = await runScenario(scenario)
  printScenario(result)
  console.log(
    '- no other instance listens: what is measured is the cost of the bus to the instance that writes (each bus still receives its own messages on its subscriber connection, and drops them).',
  )
  const figures: ProbeResult['figures'] = {}
  const byName = (name: string) => result.results.find((r) => r.name === name)
  const rows: string[][] = []
  for (const [library, off, on] of [
    ['layercache', BUS_SET_LAYERCACHE_OFF, BUS_SET_LAYERCACHE_ON],
    ['bentocache', BUS_SET_BENTO_OFF, BUS_SET_BENTO_ON],
  ] as const) {
    const a = byName(off)
    const b = byName(on)
    if (!a || !b) continue
    const ratio = ratioTo(b, a, scenario)
    figures[`${library} on/off`] = ratio
    figures[`${library} off ns`] = a.nsPerOp
    figures[`${library} on ns`] = b.nsPerOp
    rows.push([
      library,
      formatOps(a.nsPerOp),
      formatOps(b.nsPerOp),
      formatRatio(ratio),
      formatRatio(a.nsPerOp / b.nsPerOp),
      formatNs(a.cpuNsPerOp),
      formatNs(b.cpuNsPerOp),
      signed(b.cpuNsPerOp - a.cpuNsPerOp),
    ])
  }
  console.log('\nBus on against bus off, per library:\n')
  printTable(
    [
      'library',
      'ops/s off',
      'ops/s on',
      'on/off (round by round)',
      'on/off (medians)',
      'CPU ns/op off',
      'CPU ns/op on',
      'CPU added',
    ],
    rows,
  )
  // A failed check of a layercache contender (bus down, nothing published) voids its target.
  const problems = result.problems.filter((problem) => problem.startsWith('layercache'))
  if (problems.length > 0) figures['layercache problems'] = problems.length
  return { id: 'bus-set', figures }
}

/** The invalidation bus: propagation latency across processes, and its cost to `set`. */
export const bus: Suite = {
  name: 'bus',
  scenarios: (): Probe[] => [
    {
      id: 'bus-latency',
      title: 'Invalidation bus: propagation latency and acknowledged calls',
      run: runLatency,
    },
    { id: 'bus-set', title: 'Set throughput, bus off and on', run: runSet },
  ],
}
