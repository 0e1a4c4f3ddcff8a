import { type Clock, systemClock } from '../core/clock.js'
import { type Duration, parseDuration } from '../core/durations.js'
import { CacheError, describe, errorMessage, invalidOption, isValueError } from '../core/errors.js'
import { checkObject } from '../core/validate.js'
import { Deadlines, type Timed } from './deadlines.js'
import { isPromise, type LayerContext } from './layer.js'

/** Circuit breaker settings: after `threshold` consecutive failures, skip the layer for `cooldown`. */
export interface BreakerOptions {
  /** Consecutive failures (errors or timeouts) that open the circuit. Default 5. */
  threshold?: number
  /** How long an open circuit skips the layer before one probe call is let through. Default '5s'. */
  cooldown?: Duration
}

/** Options of {@link resilient} and of remote layers. */
export interface ResilienceOptions {
  /** Every call to the layer settles within this time; a late answer counts as a failure. Default '100ms'. */
  timeout?: Duration
  /** The circuit breaker, or `false` for none. */
  breaker?: BreakerOptions | false
  /** Keys whose write failed, remembered for repair; beyond this the whole namespace is repaired. Default 10,000. */
  maxDirtyKeys?: number
}

/** The state of a guarded layer, for health checks. */
export interface LayerHealth {
  state: 'closed' | 'open' | 'half-open'
  /** Consecutive failures so far. */
  failures: number
  /** Calls answered without touching the layer because the circuit was open. */
  skipped: number
  /** Keys whose last write failed and which are read as misses until repaired. */
  dirtyKeys: number
  /** Message of the last failure, if any. */
  lastError?: string
}

const OPTION_KEYS: ReadonlySet<string> = new Set(['timeout', 'breaker', 'maxDirtyKeys'])
const BREAKER_KEYS: ReadonlySet<string> = new Set(['threshold', 'cooldown'])

/** How a {@link Guard} repairs what failed writes may have left stale in its layer. */
export interface Repairer {
  deleteMany(keys: readonly string[]): unknown
  clear(): unknown
}

/**
 * Timeouts, a circuit breaker and repair of failed writes, for any store the cache cannot
 * trust to answer: every call settles within `timeout`; `threshold` consecutive failures open
 * the circuit, which skips the store (a dead store costs nothing per call) until a probe
 * succeeds after `cooldown`. Keys whose write or delete failed or was skipped are "dirty":
 * read as misses until the guard has deleted them from the store, once it answers again, so
 * an outage never leaves an older value behind.
 */
export class Guard {
  readonly name: string
  readonly timeoutMs: number
  readonly #threshold: number
  readonly #cooldownMs: number
  readonly #maxDirty: number
  readonly #repairer: Repairer
  readonly #deadlines: Deadlines
  #clock: Clock = systemClock
  #report: LayerContext['report'] = () => {}
  #failures = 0
  #openUntil = 0
  #probing = false
  #skipped = 0
  #lastError: string | undefined
  #openError: CacheError | undefined
  /** Dirty keys with the generation of their last failed write (a repair must not clear a newer mark). */
  readonly #dirty = new Map<string, number>()
  #generation = 0
  #dirtyAll = false
  #repairing = false

  constructor(name: string, options: ResilienceOptions, repairer: Repairer) {
    checkObject(options, `${name} options`, OPTION_KEYS)
    this.name = name
    this.#repairer = repairer
    this.timeoutMs = parseDuration(options.timeout ?? 100, `${name}.timeout`)
    if (this.timeoutMs <= 0) throw invalidOption(`${name}.timeout`, 'must be above 0')
    this.#deadlines = new Deadlines(this.timeoutMs)
    const breaker =
      options.breaker === false
        ? false
        : checkObject(options.breaker ?? {}, `${name}.breaker`, BREAKER_KEYS)
    const threshold = breaker === false ? Number.POSITIVE_INFINITY : (breaker.threshold ?? 5)
    if (breaker !== false && (!Number.isSafeInteger(threshold) || (threshold as number) < 1)) {
      throw invalidOption(
        `${name}.breaker.threshold`,
        `must be a positive integer, got ${describe(threshold)}`,
      )
    }
    this.#threshold = threshold as number
    this.#cooldownMs =
      breaker === false ? 0 : parseDuration(breaker.cooldown ?? '5s', `${name}.breaker.cooldown`)
    const maxDirty = options.maxDirtyKeys ?? 10_000
    if (!Number.isSafeInteger(maxDirty) || maxDirty < 0) {
      throw invalidOption(
        `${name}.maxDirtyKeys`,
        `must be a non-negative integer, got ${describe(maxDirty)}`,
      )
    }
    this.#maxDirty = maxDirty
  }

  bind(context: LayerContext): void {
    this.#clock = context.clock
    this.#report = context.report
  }

  health(): LayerHealth {
    const state =
      this.#openUntil === 0
        ? 'closed'
        : this.#probing || this.#clock.now() >= this.#openUntil
          ? 'half-open'
          : 'open'
    const dirtyKeys = this.#dirtyAll ? Number.POSITIVE_INFINITY : this.#dirty.size
    return {
      state,
      failures: this.#failures,
      skipped: this.#skipped,
      dirtyKeys,
      lastError: this.#lastError,
    }
  }

  /** Whether reads of `key` must miss until a failed write of it has been repaired (then a repair is kicked). */
  isDirty(key: string): boolean {
    if (!this.#dirtyAll && (this.#dirty.size === 0 || !this.#dirty.has(key))) return false
    this.kick()
    return true
  }

  /**
   * Reads `keys` in one guarded call of `fetch`, which gets only the keys that are not dirty;
   * the answers come back in the order of `keys`, a dirty key answering `undefined`.
   */
  async readMany<R>(
    keys: readonly string[],
    fetch: (clean: readonly string[]) => readonly R[] | Promise<readonly R[]>,
  ): Promise<(R | undefined)[]> {
    const clean = keys.filter((key) => !this.isDirty(key))
    if (clean.length === 0) return keys.map(() => undefined)
    const found = await this.call('getMany', undefined, () => fetch(clean))
    if (clean.length === keys.length) return [...found]
    const byKey = new Map(clean.map((key, i) => [key, found[i]]))
    return keys.map((key) => byKey.get(key))
  }

  /** A write or delete: when it fails (or is skipped), its keys turn dirty; when it lands, clean. */
  write(keys: readonly string[], operation: string, run: () => unknown): Promise<void> {
    return this.call(
      operation,
      keys.length === 1 ? keys[0] : undefined,
      run,
      keys,
      true,
    ) as Promise<void>
  }

  /**
   * Starts repairing dirty keys if the circuit lets a call through (the repair may be the
   * half-open probe). Reads that skip a dirty key call it, so a read-only workload heals too.
   */
  kick(): void {
    if (!this.#repairing && (this.#openUntil === 0 || this.#clock.now() >= this.#openUntil))
      void this.#repair()
  }

  /** Clearing everything also repairs everything; a failed clear makes every key dirty. */
  async clear(run: () => unknown): Promise<void> {
    const since = this.#generation
    try {
      await this.call('clear', undefined, run)
      if (this.#generation === since) this.#dirtyAll = false
      for (const [key, generation] of this.#dirty) if (generation <= since) this.#dirty.delete(key)
    } catch (error) {
      this.#dirtyAll = true
      throw error
    }
  }

  /**
   * Runs one call within the timeout, through the breaker. `written` keys are clean once it
   * lands (and dirty if it fails, with `dirtyOnFailure`). One promise and one small record per
   * call, settled with its bookkeeping done: this sits on every remote read and write.
   */
  call<T>(
    operation: string,
    key: string | undefined,
    run: () => T | Promise<T>,
    written?: readonly string[],
    dirtyOnFailure = false,
  ): Promise<Awaited<T>> {
    let probe = false
    let answer: T | Promise<T>
    try {
      probe = this.#admit()
      answer = run()
    } catch (error) {
      return Promise.reject(this.failed(operation, key, written, dirtyOnFailure, probe, error))
    }
    if (!isPromise(answer)) {
      this.landed(written, probe) // answered synchronously: no deadline to set
      return Promise.resolve(answer as Awaited<T>)
    }
    const call = new GuardedCall<Awaited<T>>(
      this,
      this.#deadlines,
      operation,
      key,
      written,
      dirtyOnFailure,
      probe,
    )
    const settled = new Promise<Awaited<T>>((resolve, reject) => {
      call.resolve = resolve
      call.reject = reject
    })
    ;(answer as Promise<Awaited<T>>).then(
      (value) => call.answered(value),
      (error: unknown) => call.threw(error),
    )
    this.#deadlines.add(call)
    return settled
  }

  /** @internal A call failed: counts it (unless it is the value's fault), marks `written` dirty. */
  failed(
    operation: string,
    key: string | undefined,
    written: readonly string[] | undefined,
    dirtyOnFailure: boolean,
    probe: boolean,
    error: unknown,
  ): unknown {
    if (probe) this.#probing = false
    if (!isValueError(error)) {
      if (dirtyOnFailure && written) this.#markDirty(written)
      if ((error as CacheError | undefined)?.code !== 'E_CIRCUIT_OPEN')
        this.#failed(operation, key, error)
    }
    return error
  }

  /** @internal A call landed: `written` keys are clean, the breaker closes. */
  landed(written: readonly string[] | undefined, probe: boolean): void {
    if (probe) this.#probing = false
    if (written && this.#dirty.size > 0) for (const k of written) this.#dirty.delete(k)
    this.#succeeded()
  }

  #markDirty(keys: readonly string[]): void {
    if (this.#dirtyAll) return
    const generation = ++this.#generation
    for (const key of keys) this.#dirty.set(key, generation)
    if (this.#dirty.size > this.#maxDirty) {
      this.#dirty.clear()
      this.#dirtyAll = true
    }
  }

  /** Throws while the circuit is open; returns true when this call is the half-open probe. */
  #admit(): boolean {
    if (this.#openUntil === 0) return false
    if (!this.#probing && this.#clock.now() >= this.#openUntil) {
      this.#probing = true
      return true
    }
    this.#skipped++
    throw this.#openError!
  }

  #failed(operation: string, key: string | undefined, error: unknown): void {
    this.#lastError = errorMessage(error)
    this.#failures++
    if (this.#failures < this.#threshold && this.#openUntil === 0) return
    const wasClosed = this.#openUntil === 0
    this.#openUntil = this.#clock.now() + this.#cooldownMs
    this.#openError = new CacheError(
      'E_CIRCUIT_OPEN',
      `layercache: layer "${this.name}" is skipped after ${this.#failures} consecutive failures (last: ${this.#lastError})`,
    )
    if (wasClosed) {
      const opened = new CacheError(
        'E_LAYER',
        `layercache: circuit of layer "${this.name}" opened for ${this.#cooldownMs}ms`,
        {
          cause: error,
        },
      )
      this.#report(operation, opened, key)
    }
  }

  #succeeded(): void {
    this.#failures = 0
    this.#openUntil = 0
    if (this.#dirty.size > 0 || this.#dirtyAll) this.kick()
  }

  /**
   * Deletes, from the store, what failed writes may have left stale there. Its calls go through
   * `call`, so they respect the breaker and a failure stops the repair until the next kick.
   */
  async #repair(): Promise<void> {
    if (this.#repairing) return
    this.#repairing = true
    try {
      while (this.#dirtyAll || this.#dirty.size > 0) {
        const since = this.#generation
        if (this.#dirtyAll) {
          await this.call('repair', undefined, () => this.#repairer.clear())
          // Keys marked dirty while the clear ran stay dirty; everything older is repaired.
          if (this.#generation === since) this.#dirtyAll = false
          for (const [key, generation] of this.#dirty)
            if (generation <= since) this.#dirty.delete(key)
          continue
        }
        const batch = [...this.#dirty].slice(0, 500)
        await this.call('repair', undefined, () =>
          this.#repairer.deleteMany(batch.map(([key]) => key)),
        )
        for (const [key, generation] of batch) {
          if (this.#dirty.get(key) === generation) this.#dirty.delete(key)
        }
      }
    } catch {
      // `call` counted the failure (or the circuit is open); the next success kicks again.
    } finally {
      this.#repairing = false
    }
  }
}

/**
 * One guarded call in flight: settles its promise with the store's answer or with `E_TIMEOUT`,
 * whichever comes first, and drops its callbacks once settled (the deadline queue keeps it
 * for a whole timeout period).
 */
class GuardedCall<T> implements Timed {
  done = false
  bucket: unknown
  resolve: ((value: T) => void) | undefined
  reject: ((error: unknown) => void) | undefined

  constructor(
    readonly guard: Guard,
    readonly deadlines: Deadlines,
    readonly operation: string,
    readonly key: string | undefined,
    readonly written: readonly string[] | undefined,
    readonly dirtyOnFailure: boolean,
    readonly probe: boolean,
  ) {}

  answered(value: T): void {
    if (!this.deadlines.settle(this)) return // too late: the timeout already answered
    const resolve = this.#settle()
    this.guard.landed(this.written, this.probe)
    resolve(value)
  }

  threw(error: unknown): void {
    if (!this.deadlines.settle(this)) return
    this.#reject(error)
  }

  timedOut(): void {
    this.#reject(
      new CacheError(
        'E_TIMEOUT',
        `layercache: layer "${this.guard.name}" did not answer ${this.operation} within ${this.guard.timeoutMs}ms`,
      ),
    )
  }

  #reject(error: unknown): void {
    const reject = this.reject!
    this.resolve = undefined
    this.reject = undefined
    const { guard, operation, key, written, dirtyOnFailure, probe } = this
    reject(guard.failed(operation, key, written, dirtyOnFailure, probe, error))
  }

  #settle(): (value: T) => void {
    const resolve = this.resolve!
    this.resolve = undefined
    this.reject = undefined
    return resolve
  }
}
