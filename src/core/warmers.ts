import { type Duration, parseDuration } from './durations.js'
import { describe, invalidOption } from './errors.js'
import { randomId } from './ids.js'
import type { Runtime } from './runtime.js'
import { checkObject } from './validate.js'
import { checkWarmOptions, type WarmOptions, type WarmReport, type WarmSource } from './warm.js'

/** Options of a named warmer. */
export interface WarmerOptions extends WarmOptions {
  /** Run every this long (scheduled on unref'd timers; stopped by `close()`). Default: only on demand. */
  every?: Duration
  /** Also run once when registered (start-up). Default false. */
  onStart?: boolean
  /** Delay each scheduled run by up to this fraction of `every` (spreads a fleet). Default 0.1. */
  jitter?: number
  /** Start-up runs go highest priority first, and `list()` shows warmers in that order. Default 0. */
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
  /** What the last run on this instance did (a period another instance ran leaves it as it was). */
  lastReport: WarmReport | undefined
}

interface Warmer extends WarmerInfo {
  /** The run in progress, which `run()` joins. */
  current: Promise<WarmReport | undefined> | undefined
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
    checkWarmOptions(warmOptions) // refused now, not at every run
    const warmer: Warmer = {
      name,
      every: everyMs,
      priority,
      running: false,
      lastRun: undefined,
      nextRun: undefined,
      lastReport: undefined,
      current: undefined,
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
    for (const warmer of due) await this.#guarded(warmer, undefined)
  }

  /** A run whose failure is reported, never thrown (scheduled and start-up runs). */
  async #guarded(warmer: Warmer, period: number | undefined): Promise<void> {
    if (this.#closed) return
    try {
      await this.#run(warmer, period)
    } catch (error) {
      this.#rt.layerError(-1, 'warmer', undefined, error)
    }
  }

  /**
   * Runs the warmer `name` now (here, whatever other instances do), or joins its run in
   * progress; resolves to that run's report.
   */
  async run(name: string): Promise<WarmReport> {
    const warmer = this.#warmers.get(name)
    if (!warmer) throw invalidOption('warmers.run name', `names no warmer: ${describe(name)}`)
    const report = await this.#run(warmer, undefined)
    // A joined scheduled run that another instance held the lease of: run here after all.
    return report ?? ((await this.#runOnce(warmer, undefined)) as WarmReport)
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

  /**
   * Schedules the run of the period after `after` (default: the one after now). Periods are
   * aligned on the clock, so instances agree on which period a run belongs to; the period is
   * fixed here, not when the timer fires (a timer may fire a little early).
   */
  #schedule(warmer: Warmer, after?: number): void {
    if (this.#closed || warmer.every === undefined) return
    const now = this.#rt.clock.now()
    const every = warmer.every
    const period = Math.max(Math.floor(now / every) + 1, after === undefined ? 0 : after + 1)
    const delay = period * every - now + this.#rt.random() * warmer.jitter * every
    warmer.nextRun = now + delay
    warmer.cancel = this.#rt.schedule(() => {
      warmer.cancel = undefined
      void this.#guarded(warmer, period).then(() => this.#schedule(warmer, period))
    }, delay)
  }

  /**
   * One run. Scheduled runs (`leased`) first take the lease of this warmer and period; without
   * it (another instance has it), they skip. A lease store that fails lets the run go ahead.
   */
  #run(warmer: Warmer, period: number | undefined): Promise<WarmReport | undefined> {
    if (warmer.current) return warmer.current // one run at a time: join it
    const run = this.#runOnce(warmer, period)
    warmer.current = run
    run
      .then(
        () => {},
        () => {},
      )
      .finally(() => {
        if (warmer.current === run) warmer.current = undefined
      })
    return run
  }

  async #runOnce(warmer: Warmer, period: number | undefined): Promise<WarmReport | undefined> {
    const rt = this.#rt
    if (period !== undefined && rt.locks && warmer.every !== undefined) {
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
