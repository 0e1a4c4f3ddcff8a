import { type ChildProcess, fork } from 'node:child_process'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { median } from '../lib/measure.js'
import { redisServer } from '../lib/redis.js'
import { printTable } from '../lib/report.js'
import {
  type Burst,
  burst,
  epochMs,
  FACTORY_MS,
  type FromWorker,
  type StampedeContender,
  stampedeContenders,
  type ToWorker,
} from '../lib/stampede.js'
import type { Probe, ProbeResult, Suite } from '../lib/suite.js'

// Stampede: 1,000 concurrent get-or-set calls of one cold key whose factory takes 50 ms, in
// one process (1 x 1000), or 500 in each of two processes started at the same instant
// (2 x 500). How many times did the factory run, and how long until every call had its value?
// Every contender has a memory layer over the run's Redis; each round uses a fresh key.

/** The contenders the target checks look for. */
export const STAMPEDE_LAYERCACHE = 'layercache wrap'
export const STAMPEDE_DISTRIBUTED = "layercache wrap, lock: 'distributed'"

const TOTAL_CALLS = 1000
/** Timed rounds per contender (each on a fresh key), after one warm-up round. */
const ROUNDS = 7
/** Pause between rounds, for background writes to settle. */
const GAP_MS = 20
/** How far ahead the two processes are told to start: enough for both to get the message. */
const LEAD_MS = 100
/** A worker that does not answer within this long is given up on. */
const ANSWER_MS = 20_000

interface Round {
  runs: number
  /** From the (agreed) start until the last call settled, ms. */
  ms: number
  errors: number
  wrong: number
  firstError?: string
  /** 2 x 500: how far apart the two processes made their first call, ms. */
  skewMs?: number
}

interface Row {
  contender: StampedeContender
  rounds: Round[]
  /** Setup failed (e.g. an option this build rejects): no rounds. */
  failed?: string
}

const roundOf = (bursts: readonly Burst[], start: number): Round => {
  const round: Round = {
    runs: bursts.reduce((sum, b) => sum + b.runs, 0),
    ms: Math.max(...bursts.map((b) => b.settledAt)) - start,
    errors: bursts.reduce((sum, b) => sum + b.errors, 0),
    wrong: bursts.reduce((sum, b) => sum + b.wrong, 0),
  }
  const firstError = bursts.find((b) => b.firstError !== undefined)?.firstError
  if (firstError !== undefined) round.firstError = firstError
  if (bursts.length > 1) {
    const starts = bursts.map((b) => b.startedAt)
    round.skewMs = Math.max(...starts) - Math.min(...starts)
  }
  return round
}

const message = (error: unknown) => (error instanceof Error ? error.message : String(error))
const runTag = Date.now().toString(36)
const keyOf = (id: string, contender: number, round: number | 'warm') =>
  `stampede:${runTag}:${id}:${contender}:${round}`

// --- 1 x 1000: one process ---------------------------------------------------------------

async function oneProcess(): Promise<Row[]> {
  const { url } = await redisServer()
  const rows: Row[] = []
  for (const [c, contender] of stampedeContenders.entries()) {
    const row: Row = { contender, rounds: [] }
    rows.push(row)
    let subject: Awaited<ReturnType<StampedeContender['setup']>>
    try {
      subject = await contender.setup(url)
    } catch (error) {
      row.failed = message(error)
      continue
    }
    try {
      await burst(subject, keyOf('1x1000', c, 'warm'), TOTAL_CALLS)
      for (let r = 0; r < ROUNDS; r++) {
        await sleep(GAP_MS)
        const result = await burst(subject, keyOf('1x1000', c, r), TOTAL_CALLS)
        row.rounds.push(roundOf([result], result.startedAt))
      }
    } finally {
      await subject.close()
    }
  }
  return rows
}

// --- 2 x 500: two child processes ----------------------------------------------------------

/** A forked worker (lib/stampede-worker.ts) and its answers, one per request, in order. */
class Worker {
  readonly #child: ChildProcess
  readonly #waiting: ((answer: FromWorker | Error) => void)[] = []
  readonly exited: Promise<void>

  constructor() {
    const script = fileURLToPath(new URL('../lib/stampede-worker.ts', import.meta.url))
    this.#child = fork(script, [], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    this.#child.on('message', (answer: FromWorker) => this.#waiting.shift()?.(answer))
    this.exited = new Promise((resolve) => {
      this.#child.once('exit', (code, signal) => {
        const gone = new Error(`worker exited (${signal ?? code})`)
        for (const waiter of this.#waiting.splice(0)) waiter(gone)
        resolve()
      })
    })
  }

  /** Sends `message`; resolves with the worker's answer. */
  request(message: ToWorker): Promise<FromWorker> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('worker did not answer')), ANSWER_MS)
      this.#waiting.push((answer) => {
        clearTimeout(timer)
        if (answer instanceof Error) reject(answer)
        else resolve(answer)
      })
      this.#child.send(message)
    })
  }

  /** Lets the worker exit (it exits on disconnect), killing it if it has not within 2 s. */
  async stop(): Promise<void> {
    if (this.#child.connected) this.#child.disconnect()
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 2_000)
    await this.exited
    clearTimeout(timer)
  }
}

async function twoProcesses(): Promise<Row[]> {
  const { url } = await redisServer()
  const workers = [new Worker(), new Worker()]
  const rows: Row[] = []
  try {
    for (const [c, contender] of stampedeContenders.entries()) {
      const row: Row = { contender, rounds: [] }
      rows.push(row)
      const setup = await Promise.all(
        workers.map((w) => w.request({ type: 'setup', contender: contender.name, url })),
      )
      const failed = setup.find((answer) => answer.type === 'failed')
      try {
        if (failed?.type === 'failed') {
          row.failed = failed.message
          continue
        }
        const perProcess = TOTAL_CALLS / workers.length
        for (let r = -1; r < ROUNDS; r++) {
          await sleep(GAP_MS)
          const key = keyOf('2x500', c, r < 0 ? 'warm' : r)
          const at = epochMs() + LEAD_MS
          const answers = await Promise.all(
            workers.map((w) => w.request({ type: 'burst', key, calls: perProcess, at })),
          )
          const bursts = answers.map((answer) => {
            if (answer.type !== 'burst') throw new Error(`worker: ${JSON.stringify(answer)}`)
            return answer.burst
          })
          if (r >= 0) row.rounds.push(roundOf(bursts, at))
        }
      } finally {
        await Promise.all(workers.map((w) => w.request({ type: 'close' })))
      }
    }
  } finally {
    await Promise.all(workers.map((w) => w.stop()))
  }
  return rows
}

// --- report --------------------------------------------------------------------------------

const sorted = (values: readonly number[]) => [...values].sort((a, b) => a - b)
const range = (values: readonly number[], unit = '') => {
  const s = sorted(values)
  const format = (n: number) => (unit === '' ? String(n) : n.toFixed(1))
  return `${format(s[0]!)}-${format(s[s.length - 1]!)}${unit}`
}
const ms = (n: number) => `${n.toFixed(1)} ms`

function report(id: string, rows: readonly Row[]): ProbeResult {
  const two = id === 'stampede-2x500'
  const header = [
    'contender',
    'factory runs (median)',
    'runs min-max',
    'total time (median)',
    'time min-max',
    ...(two ? ['start skew (median)'] : []),
    'failed calls',
  ]
  const table = rows.map(({ contender, rounds, failed }) => {
    if (failed !== undefined)
      return header.map((_, i) => (i === 0 ? contender.name : i === 1 ? 'setup failed' : '-'))
    const runs = rounds.map((r) => r.runs)
    const times = rounds.map((r) => r.ms)
    const errors = rounds.reduce((sum, r) => sum + r.errors, 0)
    const wrong = rounds.reduce((sum, r) => sum + r.wrong, 0)
    return [
      contender.name,
      String(median(sorted(runs))),
      range(runs),
      ms(median(sorted(times))),
      range(times, ' ms'),
      ...(two ? [ms(median(sorted(rounds.map((r) => r.skewMs ?? 0))))] : []),
      `${errors}${wrong > 0 ? ` (+${wrong} wrong values)` : ''} of ${rounds.length * TOTAL_CALLS}`,
    ]
  })
  printTable(header, table)
  for (const { contender, rounds, failed } of rows) {
    console.log(`- ${contender.name}: ${contender.lock}`)
    if (failed !== undefined) console.log(`  WARNING setup failed: ${failed.slice(0, 200)}`)
    const firstError = rounds.find((r) => r.firstError !== undefined)?.firstError
    if (firstError !== undefined) console.log(`  WARNING calls failed: ${firstError.slice(0, 160)}`)
  }
  const figures: ProbeResult['figures'] = {}
  for (const { contender, rounds, failed } of rows) {
    if (failed !== undefined || rounds.length === 0) continue
    const runs = sorted(rounds.map((r) => r.runs))
    figures[`${contender.name}: runs min`] = runs[0]
    figures[`${contender.name}: runs max`] = runs[runs.length - 1]
    figures[`${contender.name}: ms`] = median(sorted(rounds.map((r) => r.ms)))
    figures[`${contender.name}: failed`] = rounds.reduce((sum, r) => sum + r.errors + r.wrong, 0)
  }
  return { id, figures }
}

function header(id: string, title: string, started: number, how: string, from: string): void {
  console.log(`\n### ${title} [${id}]`)
  console.log(
    `${TOTAL_CALLS.toLocaleString('en-US')} concurrent get-or-set calls of one cold key, ${how}; factory ${FACTORY_MS} ms (a timer); memory + Redis for everyone; median of ${ROUNDS} rounds after a warm-up round, each on a fresh key; total time from ${from} until the last call settled; ${((Date.now() - started) / 1000).toFixed(1)} s in all\n`,
  )
}

async function runOne(): Promise<ProbeResult> {
  const started = Date.now()
  const rows = await oneProcess()
  header(
    'stampede-1x1000',
    'Stampede, 1 process x 1,000 calls',
    started,
    'fired in one synchronous loop in this process',
    'the first call',
  )
  return report('stampede-1x1000', rows)
}

async function runTwo(): Promise<ProbeResult> {
  const started = Date.now()
  const rows = await twoProcesses()
  header(
    'stampede-2x500',
    'Stampede, 2 processes x 500 calls',
    started,
    `500 in each of two child processes (node --import tsx, one shared Redis), both starting at an instant agreed ${LEAD_MS} ms ahead (a timer, then a spin on the shared clock; start skew: how far apart their first calls were)`,
    'the agreed instant',
  )
  return report('stampede-2x500', rows)
}

/** Concurrent cold calls of one key, in one process and in two. */
export const stampede: Suite = {
  name: 'stampede',
  scenarios: (): Probe[] => [
    { id: 'stampede-1x1000', title: 'Stampede, 1 process x 1,000 calls', run: runOne },
    { id: 'stampede-2x500', title: 'Stampede, 2 processes x 500 calls', run: runTwo },
  ],
}
