import { setTimeout as sleep } from 'node:timers/promises'
import type { RedisServer } from '../../test/helpers/redis-server.js'
import { median } from './measure.js'

/** How Redis fails: the process killed (connections refused), or frozen with SIGSTOP (no answer). */
export type Fault = 'killed' | 'frozen'

/** A cache with memory over Redis, set up (connected, one key written) while Redis is up. */
export interface OutageSubject {
  /** One get-or-set call. */
  wrap(key: string, factory: () => Promise<unknown>): Promise<unknown>
  /** Runs after the cold calls, Redis still down; `warmKey` was written before the fault. */
  whileDown?(fault: Fault, warmKey: string): Promise<string[]>
  /** Drops the client(s) at once, so nothing keeps waiting on the dead server, then closes. */
  close(): Promise<unknown>
}

export interface OutageContender {
  name: string
  setup(): Promise<OutageSubject>
}

/** What the cold calls of one contender under one fault came to. */
export interface OutageResult {
  name: string
  fault: Fault
  /** ms per call, in order; the last one is `undefined` when it hung (then no more calls ran). */
  ms: (number | undefined)[]
  /** Message of the first call that threw, if any did. */
  threw?: string
  lines: string[]
}

/** A hung call is abandoned after this long. */
export const HANG_MS = 5_000

const HUNG = Symbol('hung')

/** `promise`, or HUNG after `ms`; a late rejection of the abandoned promise is swallowed. */
export async function bounded<T>(promise: Promise<T>, ms: number): Promise<T | typeof HUNG> {
  let timer: NodeJS.Timeout | undefined
  promise.catch(() => {})
  try {
    return await Promise.race([
      promise,
      new Promise<typeof HUNG>((resolve) => {
        timer = setTimeout(() => resolve(HUNG), ms)
      }),
    ])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Sets the contender up with Redis running, applies the fault, then makes `calls` cold
 * get-or-set calls (distinct keys, a factory that returns at once), one after the other, each
 * bounded by HANG_MS. Stops at the first hung call. Leaves Redis down; `recover` brings it back.
 */
export async function runOutage(
  server: RedisServer,
  contender: OutageContender,
  fault: Fault,
  calls: number,
  tag: string,
): Promise<OutageResult> {
  const subject = await contender.setup()
  const value = { id: 1, name: 'fresh' }
  const factory = async () => value
  const result: OutageResult = { name: contender.name, fault, ms: [], lines: [] }
  try {
    const warmKey = `${tag}:warm`
    await subject.wrap(warmKey, factory)
    if (fault === 'killed') await server.kill()
    else server.freeze()
    // Let every client see the fault the same way (a killed server's sockets are closed).
    await sleep(100)
    for (let i = 0; i < calls; i++) {
      const start = process.hrtime.bigint()
      let outcome: unknown
      try {
        outcome = await bounded(subject.wrap(`${tag}:cold:${fault}:${i}`, factory), HANG_MS)
      } catch (error) {
        result.threw ??= error instanceof Error ? error.message : String(error)
      }
      if (outcome === HUNG) {
        result.ms.push(undefined)
        break
      }
      result.ms.push(Number(process.hrtime.bigint() - start) / 1e6)
    }
    if (subject.whileDown) result.lines.push(...(await subject.whileDown(fault, warmKey)))
  } finally {
    if ((await bounded(subject.close(), 2_000)) === HUNG)
      result.lines.push(`close() did not settle within 2 s`)
  }
  return result
}

/** Brings Redis back after a fault: resumed when frozen, restarted when killed. */
export async function recover(server: RedisServer, fault: Fault): Promise<void> {
  if (fault === 'frozen') server.resume()
  else await server.restart()
}

/** The median of the calls after the first, or undefined when there are none or one hung. */
export function medianOfNext(ms: readonly (number | undefined)[]): number | undefined {
  const next = ms.slice(1)
  if (next.length === 0 || next.some((m) => m === undefined)) return undefined
  return median((next as number[]).sort((a, b) => a - b))
}

/** ms as printed: three decimals below 1 ms, one above; `>5000 ms (hung)` for a hung call. */
export function formatMs(ms: number | undefined): string {
  if (ms === undefined) return `>${HANG_MS} ms (hung)`
  return `${ms < 1 ? ms.toFixed(3) : ms.toFixed(1)} ms`
}
