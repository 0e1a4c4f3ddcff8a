import type { Entry } from '../core/entry.js'
import { CacheError } from '../core/errors.js'
import { Guard, type LayerHealth, type ResilienceOptions } from '../layers/guard.js'
import { boundTwice, type Layer, type LayerContext, type LayerSetItem } from '../layers/layer.js'
import type { ByteItem, ByteStore } from './byte-store.js'
import type { Codec } from './codec.js'

/**
 * A layer over a store of bytes: keys are prefixed with the cache's namespace (so caches that
 * share the store never see each other's keys), entries are encoded with the codec, and bytes
 * that do not decode are a miss, reported as `E_CODEC` and deleted from the store. Every store
 * call goes through a {@link Guard} (timeout, circuit breaker, repair of failed writes).
 *
 * Encoding happens before the guard and synchronously, so a value that cannot be stored is
 * refused (`E_CODEC`, `E_VALUE_TOO_LARGE`) whatever the store's health.
 */
export class RemoteLayer implements Layer {
  readonly name: string
  readonly #store: ByteStore
  readonly #codec: Codec
  /** Timeout, breaker and repair of every store call (subclasses route their own calls through it). */
  protected readonly guard: Guard
  readonly #basePrefix: string
  #prefix = ''
  #bound = false
  #report: LayerContext['report'] = () => {}
  /** Deletions of unreadable keys still running; `close()` waits for them. */
  readonly #pending = new Set<Promise<unknown>>()

  constructor(
    name: string,
    store: ByteStore,
    codec: Codec,
    keyPrefix: string,
    resilience: ResilienceOptions,
  ) {
    this.name = name
    this.#store = store
    this.#codec = codec
    this.#basePrefix = keyPrefix
    this.guard = new Guard(name, resilience, {
      deleteMany: (keys) => store.delete(keys.map((key) => this.#prefix + key)),
      clear: () => store.clear(this.#prefix),
    })
  }

  bind(context: LayerContext): void {
    // Rebinding would silently move this layer's keys into another cache's namespace.
    if (this.#bound) throw boundTwice(this.name)
    this.#bound = true
    this.#prefix = `${this.#basePrefix}${context.namespace}:`
    this.#report = context.report
    this.guard.bind(context)
  }

  /** Circuit state, failures and dirty keys of this layer. */
  health(): LayerHealth {
    return this.guard.health()
  }

  /** The namespaced prefix of this layer's keys in its store (known once bound). */
  protected get keyPrefix(): string {
    return this.#prefix
  }

  /** The key this layer uses in its store for a cache key. */
  storeKey(key: string): string {
    return this.#prefix + key
  }

  get(key: string): Promise<Entry | undefined> {
    if (this.guard.isDirty(key)) return Promise.resolve(undefined)
    // A continuation rather than an async function: one promise fewer on every remote read.
    return this.guard
      .call('get', key, () => this.#store.get(this.#prefix + key))
      .then((bytes) => (bytes === undefined ? undefined : this.#decode(key, bytes, true)))
  }

  async getMany(keys: readonly string[]): Promise<(Entry | undefined)[]> {
    const found = await this.guard.readMany(keys, (clean) =>
      this.#store.getMany(clean.map((key) => this.#prefix + key)),
    )
    return found.map((bytes, i) =>
      bytes === undefined ? undefined : this.#decode(keys[i]!, bytes, false),
    )
  }

  set(key: string, entry: Entry, ttlMs: number): Promise<void> {
    const item = this.#item(key, entry, ttlMs)
    return this.guard.write([key], 'set', () => this.#store.set(item))
  }

  setMany(items: readonly LayerSetItem[]): Promise<void> {
    const encoded = items.map((item) => this.#item(item.key, item.entry, item.ttlMs))
    return this.guard.write(
      items.map((item) => item.key),
      'setMany',
      () => this.#store.setMany(encoded),
    )
  }

  delete(key: string): Promise<void> {
    return this.guard.write([key], 'delete', () => this.#store.delete([this.#prefix + key]))
  }

  deleteMany(keys: readonly string[]): Promise<void> {
    return this.guard.write(keys, 'deleteMany', () =>
      this.#store.delete(keys.map((key) => this.#prefix + key)),
    )
  }

  clear(): Promise<void> {
    // A store that cannot list its keys cannot clear one namespace: say so, and do not let
    // the guard take the refusal for an outage (which would distrust every key for good).
    if (!this.#store.canClear) {
      return Promise.reject(
        new CacheError(
          'E_LAYER',
          `layercache: layer "${this.name}" cannot clear one namespace: its store cannot list keys`,
        ),
      )
    }
    return this.guard.clear(() => this.#store.clear(this.#prefix))
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.#pending)
    await this.#store.close()
  }

  #item(key: string, entry: Entry, ttlMs: number): ByteItem {
    return { key: this.#prefix + key, bytes: this.#codec.encode(entry, key), ttlMs }
  }

  /** Decodes, or deletes the unreadable bytes and throws (single reads) or reports (batches). */
  #decode(key: string, bytes: Uint8Array, throwOnError: boolean): Entry | undefined {
    try {
      return this.#codec.decode(bytes, key, this.name)
    } catch (error) {
      // Through the guard: bounded by its timeout, and a failed delete leaves the key dirty.
      const deletion = this.guard
        .write([key], 'delete', () => this.#store.delete([this.#prefix + key]))
        .catch(() => {})
      this.#pending.add(deletion)
      deletion.finally(() => this.#pending.delete(deletion))
      if (throwOnError) throw error
      this.#report('getMany', error, key)
      return undefined
    }
  }
}
