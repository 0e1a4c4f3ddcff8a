import { type Duration, parseDuration } from './durations.js'
import { describe, invalidOption } from './errors.js'
import { randomId } from './ids.js'
import type { Runtime } from './runtime.js'
import { checkObject } from './validate.js'
import type { WarmOptions, WarmReport, WarmSource } from './warm.js'

/** Options of a named warmer. */
export interface WarmerOptions extends WarmOptions {
  /** Run every this long (scheduled on unref'd timers; stopped by `close()`). Default: only on demand. */
  every?: Duration
  /** Also run once when registered (start-up). Default false. */
  onStart?: boolean
  /** Delay each scheduled run by up to this fraction of `every` (spreads a fleet). Default 0.1. */
  jitter?: number
  /** Among warmers due together, higher runs first. Default 0. */
  priority?: number
}

/** A registered warmer, as `list()` shows it. */
export interface WarmerInfo {
  name: string
  every: number | undefined
  priority: number
  running: boolean
  /** When the last run here started (the cache's clock), if any. */
  lastRun: number | undefined
  /** When the next scheduled run is due, if scheduled. */
  nextRun: number | undefined
  /** What the last run here did; `undefined` when another instance held the period's lease. */
  lastReport: WarmReport | undefined
}

interface Warmer extends WarmerInfo {
  source: () => WarmSource | Promise<WarmSource>
  options: WarmOptions
  jitter: number
  cancel: (() => void) | undefined
}

const OPTION_KEYS: ReadonlySet<string> = new Set([
  'every',
  'onStart',
  'jitter',
  'priority',
  'concurrency',
  'signal',
  'retries',
  'backoff',
])

/**
 * Named warmers of one cache: `register(name, fn, { every, onStart })` runs `cache.warm(fn())`
 * on demand and on a schedule. With a layer that keeps leases (Redis), a scheduled run takes
 * a lease per warmer and period, so that one instance of a fleet runs it, not all.
 */
export class Warmers {
  readonly #warmers = new Map<string, Warmer>()
  readonly #rt: Runtime
  readonly #warm: (source: WarmSource, options: WarmOptions) => Promise<WarmReport>
  readonly #owner: string
  #closed = false

  /** @internal Made by the cache. */
  constructor(
    rt: Runtime,
    warm: (source: WarmSource, options: WarmOptions) => Promise<WarmReport>,
  ) {
    this.#rt = rt
    this.#warm = warm
    this.#owner = randomId(rt.random)
  }

  /**
   * Registers `fn` (giving the items to warm) under `name`.
   *
   * @example
   * cache.warmers.register('dashboards', () => activeUsers().map(dashboardItem), { every: '15m', onStart: true })
   */
  register(
    name: string,
    fn: () => WarmSource | Promise<WarmSource>,
    options: WarmerOptions = {},
  ): void {
    if (typeof name !== 'string' || name.length === 0) {
      throw invalidOption(
        'warmers.register name',
        `must be a non-empty string, got ${describe(name)}`,
      )
    }
    if (this.#warmers.has(name))
      throw invalidOption('warmers.register name', `"${name}" is already registered`)
    if (typeof fn !== 'function') {
      throw invalidOption(
        'warmers.register fn',
        `must be a function giving the items, got ${describe(fn)}`,
      )
    }
    checkObject(options, `warmers.register options`, OPTION_KEYS)
    const { every, onStart = false, jitter = 0.1, priority = 0, ...warmOptions } = options
    const everyMs =
      every === undefined ? undefined : parseDuration(every, 'warmers.register options.every')
    if (everyMs !== undefined && !(everyMs > 0 && Number.isFinite(everyMs))) {
      throw invalidOption('warmers.register options.every', 'must be a finite duration above 0')
    }
    if (typeof jitter !== 'number' || !(jitter >= 0 && jitter <= 1)) {
      throw invalidOption(
        'warmers.register options.jitter',
        `must be a fraction from 0 to 1, got ${describe(jitter)}`,
      )
    }
    if (typeof priority !== 'number' || !Number.isFinite(priority)) {
      throw invalidOption(
        'warmers.register options.priority',
        `must be a number, got ${describe(priority)}`,
      )
    }
    const warmer: Warmer = {
      name,
      every: everyMs,
      priority,
      running: false,
      lastRun: undefined,
      nextRun: undefined,
      lastReport: undefined,
      source: fn,
      options: warmOptions,
      jitter,
      cancel: undefined,
    }
    this.#warmers.set(name, warmer)
    if (onStart) {
      // Once the warmers registered in this turn are all known: highest priority first.
      this.#onStart.push(warmer)
      if (this.#onStart.length === 1) queueMicrotask(() => void this.#runOnStart())
    }
    this.#schedule(warmer)
  }

  /** Warmers to run once at start-up, waiting for the end of the turn that registered them. */
  #onStart: Warmer[] = []

  async #runOnStart(): Promise<void> {
    const due = this.#onStart.splice(0).sort((a, b) => b.priority - a.priority)
    // Each instance warms at start-up (keys still fresh in a shared layer are skipped).
    for (const warmer of due) await this.#guarded(warmer, false)
  }

  /** A run whose failure is reported, never thrown (scheduled and start-up runs). */
  async #guarded(warmer: Warmer, leased: boolean): Promise<void> {
    if (this.#closed) return
    try {
      await this.#run(warmer, leased)
    } catch (error) {
      this.#rt.layerError(-1, 'warmer', undefined, error)
    }
  }

  /** Runs the warmer `name` now (here, whatever other instances do); resolves to its report. */
  async run(name: string): Promise<WarmReport> {
    const warmer = this.#warmers.get(name)
    if (!warmer) throw invalidOption('warmers.run name', `names no warmer: ${describe(name)}`)
    return (await this.#run(warmer, false))!
  }

  /** The registered warmers, highest priority first, with their last and next runs. */
  list(): WarmerInfo[] {
    return [...this.#warmers.values()]
      .sort((a, b) => b.priority - a.priority)
      .map(({ name, every, priority, running, lastRun, nextRun, lastReport }) => ({
        name,
        every,
        priority,
        running,
        lastRun,
        nextRun,
        lastReport,
      }))
  }

  /** Stops every schedule (the cache's `close()` calls it). */
  close(): void {
    this.#closed = true
    for (const warmer of this.#warmers.values()) {
      warmer.cancel?.()
      warmer.cancel = undefined
      warmer.nextRun = undefined
    }
  }

  #schedule(warmer: Warmer): void {
    if (this.#closed || warmer.every === undefined) return
    const now = this.#rt.clock.now()
    const every = warmer.every
    // Periods are aligned on the clock, so instances agree on which period a run belongs to.
    const nextPeriod = Math.floor(now / every) * every + every
    const delay = nextPeriod - now + this.#rt.random() * warmer.jitter * every
    warmer.nextRun = now + delay
    warmer.cancel = this.#rt.schedule(() => {
      warmer.cancel = undefined
      void this.#guarded(warmer, true).then(() => this.#schedule(warmer))
    }, delay)
  }

  /**
   * One run. Scheduled runs (`leased`) first take the lease of this warmer and period; without
   * it (another instance has it), they skip. A lease store that fails lets the run go ahead.
   */
  async #run(warmer: Warmer, leased: boolean): Promise<WarmReport | undefined> {
    if (warmer.running) return warmer.lastReport
    const rt = this.#rt
    if (leased && rt.locks && warmer.every !== undefined) {
      const period = Math.floor(rt.clock.now() / warmer.every)
      try {
        const taken = await rt.locks.acquire(
          `#warmer:${warmer.name}:${period}`,
          this.#owner,
          warmer.every,
        )
        if (!taken) return undefined
      } catch (error) {
        rt.layerError(rt.lockLayer, 'lock', undefined, error)
      }
    }
    warmer.running = true
    warmer.lastRun = rt.clock.now()
    try {
      const report = await this.#warm(await warmer.source(), warmer.options)
      warmer.lastReport = report
      return report
    } finally {
      warmer.running = false
    }
  }
}
