import type { Entry } from '../core/entry.js'
import { Guard, type LayerHealth, type ResilienceOptions } from './guard.js'
import type { Layer, LayerContext, LayerSetItem } from './layer.js'

/**
 * Wraps a layer so that it can never stall or flood the cache: every call has a timeout;
 * consecutive failures open a circuit breaker that skips the layer (a dead store then costs
 * nothing per call) until a probe succeeds. Writes and deletes that fail or are skipped are
 * remembered, their keys read as misses, and repaired (deleted from the layer) once it
 * answers again, so an outage never leaves an older value behind in the layer.
 *
 * `redisLayer` and `keyvLayer` have the same protection built in; use this for your own layers.
 *
 * @example
 * const layer = resilient(myLayer, { timeout: '50ms', breaker: { threshold: 3, cooldown: '10s' } })
 */
export function resilient(layer: Layer, options: ResilienceOptions = {}): ResilientLayer {
  return new ResilientLayer(layer, options)
}

/** A layer wrapped by {@link resilient}. */
export class ResilientLayer implements Layer {
  readonly name: string
  readonly inner: Layer
  /** As the wrapped layer. */
  readonly local: boolean | undefined
  readonly #guard: Guard

  constructor(layer: Layer, options: ResilienceOptions = {}) {
    this.inner = layer
    this.name = layer.name
    this.local = layer.local
    this.#guard = new Guard(layer.name, options, {
      deleteMany: (keys) => deleteAll(layer, keys),
      clear: () => layer.clear(),
    })
  }

  bind(context: LayerContext): void {
    this.#guard.bind(context)
    this.inner.bind?.(context)
  }

  health(): LayerHealth {
    return this.#guard.health()
  }

  async get(key: string): Promise<Entry | undefined> {
    if (this.#guard.isDirty(key)) return undefined
    return this.#guard.call('get', key, () => this.inner.get(key))
  }

  getMany(keys: readonly string[]): Promise<(Entry | undefined)[]> {
    const inner = this.inner
    return this.#guard.readMany(keys, (clean) =>
      inner.getMany ? inner.getMany(clean) : Promise.all(clean.map((key) => inner.get(key))),
    )
  }

  set(key: string, entry: Entry, ttlMs: number): Promise<void> {
    return this.#guard.write([key], 'set', () => this.inner.set(key, entry, ttlMs))
  }

  setMany(items: readonly LayerSetItem[]): Promise<void> {
    const inner = this.inner
    return this.#guard.write(
      items.map((item) => item.key),
      'setMany',
      (): unknown =>
        inner.setMany
          ? inner.setMany(items)
          : Promise.all(items.map((item) => inner.set(item.key, item.entry, item.ttlMs))),
    )
  }

  delete(key: string): Promise<void> {
    return this.#guard.write([key], 'delete', () => this.inner.delete(key))
  }

  deleteMany(keys: readonly string[]): Promise<void> {
    return this.#guard.write(keys, 'deleteMany', () => deleteAll(this.inner, keys))
  }

  clear(): Promise<void> {
    return this.#guard.clear(() => this.inner.clear())
  }

  async close(): Promise<void> {
    await this.inner.close?.()
  }
}

function deleteAll(layer: Layer, keys: readonly string[]): unknown {
  return layer.deleteMany
    ? layer.deleteMany(keys)
    : Promise.all(keys.map((key) => layer.delete(key)))
}
