import { type Duration, parseDuration } from '../core/durations.js'
import type { Entry } from '../core/entry.js'
import { describe, invalidOption } from '../core/errors.js'
import { checkObject } from '../core/validate.js'
import type { Layer, LayerContext, LayerSetItem } from '../layers/layer.js'

/** How a {@link ChaosLayer} misbehaves. Rates are fractions of calls, from 0 to 1. */
export interface ChaosOptions {
  /** Share of calls that reject with an Error. */
  errorRate?: number
  /** Share of calls that never settle (until `heal()`). */
  hangRate?: number
  /** Added latency per call: a duration, or `[min, max]`. */
  latency?: Duration | readonly [Duration, Duration]
  /** Source of randomness in [0, 1); inject one for reproducible chaos. */
  random?: () => number
}

/** Forced behaviour, overriding the rates: every call fails, hangs, or behaves. */
export type ChaosMode = 'normal' | 'down' | 'hang'

const OPTION_KEYS: ReadonlySet<string> = new Set(['errorRate', 'hangRate', 'latency', 'random'])

function rate(value: unknown, path: string): number {
  if (value === undefined) return 0
  if (typeof value !== 'number' || !(value >= 0 && value <= 1)) {
    throw invalidOption(path, `must be a number from 0 to 1, got ${describe(value)}`)
  }
  return value
}

/**
 * Wraps a layer to inject failures, latency and hangs, for testing how an application behaves
 * when its cache store misbehaves. `mode` forces a state; `heal()` releases hung calls (they
 * reject), so a test can prove that nothing is left pending.
 *
 * @example
 * const flaky = chaosLayer(memoryLayer({ name: 'store' }), { errorRate: 0.2, latency: ['1ms', '20ms'] })
 * const layer = resilient(flaky, { timeout: '50ms' }) // what your code would put in front of a store
 * flaky.mode = 'hang' // now every call hangs, as with a frozen server; the guard times them out
 */
export function chaosLayer(inner: Layer, options: ChaosOptions = {}): ChaosLayer {
  return new ChaosLayer(inner, options)
}

/** A layer wrapped by {@link chaosLayer}. */
export class ChaosLayer implements Layer {
  readonly name: string
  readonly inner: Layer
  /** As the wrapped layer. */
  readonly local: boolean | undefined
  /** Forced behaviour; `'normal'` applies the configured rates. */
  mode: ChaosMode = 'normal'
  /** Calls made, and how many of them were failed or hung on purpose. */
  readonly counts = { calls: 0, failed: 0, hung: 0 }
  readonly #errorRate: number
  readonly #hangRate: number
  readonly #latency: readonly [number, number]
  readonly #random: () => number
  readonly #hung = new Set<(error: Error) => void>()

  constructor(inner: Layer, options: ChaosOptions = {}) {
    checkObject(options, 'chaosLayer options', OPTION_KEYS)
    this.inner = inner
    this.name = inner.name
    this.local = inner.local
    this.#errorRate = rate(options.errorRate, 'chaosLayer.errorRate')
    this.#hangRate = rate(options.hangRate, 'chaosLayer.hangRate')
    const latency = options.latency ?? 0
    const [min, max] = Array.isArray(latency) ? latency : [latency, latency]
    this.#latency = [
      parseDuration(min, 'chaosLayer.latency'),
      parseDuration(max, 'chaosLayer.latency'),
    ]
    const random = options.random ?? Math.random
    if (typeof random !== 'function')
      throw invalidOption('chaosLayer.random', `must be a function, got ${describe(random)}`)
    this.#random = random
  }

  /** Number of calls hanging now. */
  get hanging(): number {
    return this.#hung.size
  }

  /** Makes every hung call reject, and the layer behave normally again. */
  heal(): void {
    this.mode = 'normal'
    for (const release of this.#hung) release(new Error(`chaos: layer "${this.name}" healed`))
    this.#hung.clear()
  }

  bind(context: LayerContext): void {
    this.inner.bind?.(context)
  }

  get(key: string): Promise<Entry | undefined> {
    return this.#chaos('get', async () => this.inner.get(key))
  }

  getMany(keys: readonly string[]): Promise<(Entry | undefined)[]> {
    const inner = this.inner
    return this.#chaos('getMany', async () =>
      inner.getMany ? inner.getMany(keys) : Promise.all(keys.map((key) => inner.get(key))),
    )
  }

  set(key: string, entry: Entry, ttlMs: number): Promise<void> {
    return this.#chaos('set', async () => this.inner.set(key, entry, ttlMs))
  }

  setMany(items: readonly LayerSetItem[]): Promise<void> {
    const inner = this.inner
    return this.#chaos('setMany', async () => {
      if (inner.setMany) await inner.setMany(items)
      else await Promise.all(items.map((item) => inner.set(item.key, item.entry, item.ttlMs)))
    })
  }

  delete(key: string): Promise<void> {
    return this.#chaos('delete', async () => this.inner.delete(key))
  }

  deleteMany(keys: readonly string[]): Promise<void> {
    const inner = this.inner
    return this.#chaos('deleteMany', async () => {
      if (inner.deleteMany) await inner.deleteMany(keys)
      else await Promise.all(keys.map((key) => inner.delete(key)))
    })
  }

  clear(): Promise<void> {
    return this.#chaos('clear', async () => this.inner.clear())
  }

  async close(): Promise<void> {
    this.heal()
    await this.inner.close?.()
  }

  async #chaos<T>(operation: string, run: () => Promise<T>): Promise<T> {
    this.counts.calls++
    const [min, max] = this.#latency
    if (max > 0)
      await new Promise((resolve) => setTimeout(resolve, min + this.#random() * (max - min)))
    const roll = this.mode === 'normal' ? this.#random() : -1
    if (this.mode === 'hang' || (roll >= 0 && roll < this.#hangRate)) {
      this.counts.hung++
      return new Promise<T>((_, reject) => {
        const release = (error: Error) => reject(error)
        this.#hung.add(release)
      })
    }
    if (this.mode === 'down' || (roll >= 0 && roll < this.#hangRate + this.#errorRate)) {
      this.counts.failed++
      throw new Error(`chaos: ${operation} on layer "${this.name}" failed on purpose`)
    }
    return run()
  }
}
