import { isPromise, type Layer } from '../layers/layer.js'
import { checkTags } from '../tags/tag-names.js'
import type { InvalidationMode } from '../tags/tag-store.js'
import type { CallOptions } from './call-options.js'
import {
  type Computation,
  computeAndStore,
  type Factory,
  stampedEntry,
  type TagsOf,
  tagsBefore,
} from './compute.js'
import type { Entry } from './entry.js'
import { CacheError, describe, invalidOption } from './errors.js'
import type { CacheEventName, CacheListener } from './events.js'
import { toStoreKey } from './keys.js'
import { type Hit, isFreshFor, readMany, readThrough } from './read-path.js'
import type { Runtime } from './runtime.js'
import { FlightTable } from './single-flight.js'
import type { CacheStats } from './stats.js'
import { clearThrough, deleteThrough, writeThrough } from './write-path.js'

export type { Factory, TagsOf } from './compute.js'

/** Options of `wrap`: a call's options, where `tags` may also be a function of the computed value. */
export interface WrapOptions<T> extends Omit<CallOptions, 'tags'> {
  /** Tags for the entry, or a function of the value returning them (recorded once it exists). */
  tags?: readonly string[] | TagsOf<T>
}

/** Options of `invalidateTags` and `invalidatePrefix`. */
export interface InvalidateOptions {
  /** `'expire'` (default): never served fresh again. `'stale'`: served stale while one refresh runs. */
  mode?: InvalidationMode
}

const noop = () => {}
/** The tag versions of an entry without tags. */
const NO_VERSIONS: readonly number[] = Object.freeze([])

/**
 * A multi-level cache. Create one with {@link createCache}; it orchestrates its layers and owns
 * all of its state (flights, counters, tag state, listeners): nothing is shared between instances.
 */
export class Cache {
  /** The namespace isolating this cache's keys in shared layers. */
  readonly namespace: string
  readonly #rt: Runtime
  readonly #top: Layer
  readonly #maxKeyLength: number
  readonly #flights = new FlightTable<unknown>()
  readonly #reads = new FlightTable<Hit | undefined>()
  /** Background refreshes of stale entries, apart from `#flights`: one starts from inside a flight. */
  readonly #refreshes = new FlightTable<unknown>()
  readonly #pending: Set<Promise<unknown>>
  #closed = false

  /** @internal Use {@link createCache}. */
  constructor(
    namespace: string,
    rt: Runtime,
    maxKeyLength: number,
    pending: Set<Promise<unknown>>,
  ) {
    this.namespace = namespace
    this.#rt = rt
    this.#top = rt.layers[0]!
    this.#maxKeyLength = maxKeyLength
    this.#pending = pending
  }

  /** Names of the layers, top (fastest) first. */
  get layerNames(): readonly string[] {
    return this.#rt.layerNames
  }

  /** Names of the policies, `default` first. */
  get policyNames(): string[] {
    return this.#rt.policies.names()
  }

  /**
   * The cached value for `key`, or `undefined`. Reads layers top-down; a hit in a lower layer
   * is copied into the layers above it. Concurrent reads of one key share one lower-layer read.
   * An entry whose tags were invalidated in `stale` mode is returned (and counted as stale).
   */
  async get<T = unknown>(key: string): Promise<T | undefined> {
    const storeKey = this.#storeKey(key, 'get')
    const rt = this.#rt
    const now = rt.clock.now()
    const top = this.#readTop(key, storeKey, now)
    if (!isPromise(top) && isFreshFor(top, key, storeKey, now) && rt.tags.trusts(top, now)) {
      rt.stats.layers[0]!.hits++
      return this.#hit(0, key, top) as T
    }
    return this.#getSlow(key, storeKey, top)
  }

  /** Whether some layer holds a fresh value for `key` (without copying it upwards). */
  async has(key: string): Promise<boolean> {
    const storeKey = this.#storeKey(key, 'has')
    const hit = await readThrough(this.#rt, key, storeKey, { invalidated: true })
    return hit !== undefined && !hit.stale
  }

  /**
   * The value for `key` from the cache, or from `factory` on a miss, which is then written to
   * every layer. Concurrent misses of one key in this process run `factory` once and share its
   * value or its error; a rejected factory is not cached, nor is `undefined`. A factory that
   * was running when one of the entry's tags was invalidated has its value returned, not stored.
   *
   * @example
   * const user = await cache.wrap(`user:${id}`, () => db.users.find(id), { policy: 'users', tags: [`user:${id}`] })
   */
  async wrap<T>(key: string, factory: Factory<T>, options?: WrapOptions<T>): Promise<T> {
    const storeKey = this.#storeKey(key, 'wrap')
    if (typeof factory !== 'function') {
      throw invalidOption('wrap factory', `must be a function, got ${describe(factory)}`)
    }
    const rt = this.#rt
    if (options !== undefined) rt.policies.check(options as CallOptions, 'wrap options')
    const now = rt.clock.now()
    const top = this.#readTop(key, storeKey, now)
    if (!isPromise(top) && isFreshFor(top, key, storeKey, now) && rt.tags.trusts(top, now)) {
      rt.stats.layers[0]!.hits++
      return this.#hit(0, key, top) as T
    }
    return this.#wrapSlow(key, storeKey, factory, options, top)
  }

  /** The miss path of `wrap`, apart so that the hit path allocates no closure context. */
  async #wrapSlow<T>(
    key: string,
    storeKey: string,
    factory: Factory<T>,
    options: WrapOptions<T> | undefined,
    top: Entry | undefined | Promise<Entry | undefined>,
  ): Promise<T> {
    const rt = this.#rt
    const job = this.#job(key, storeKey, factory, options)
    if (isPromise(top)) top.catch(noop) // a joined flight never awaits it
    const value = await this.#flights.run(storeKey, async (flight) => {
      // A layer that failed to answer this read is written in the background, so an outage
      // costs a cold call one timeout, not two.
      const failed = new Set<number>()
      const hit = await readThrough(rt, key, storeKey, flight, { answer: top }, failed)
      if (hit) {
        const value = this.#hit(hit.layer, key, hit.entry, hit.stale)
        if (hit.stale) this.#refresh(job)
        return value
      }
      this.#miss(key)
      const { value, stored } = await computeAndStore(rt, job, flight, failed)
      if (stored) this.#wrote(key)
      return value
    })
    return value as T
  }

  /** Writes `value` to every layer under `key`, each with its own TTL from the policy. */
  async set<T>(key: string, value: T, options?: CallOptions): Promise<void> {
    const storeKey = this.#storeKey(key, 'set')
    const rt = this.#rt
    const policy = rt.policies.resolve(options, 'set options')
    const tags = tagsBefore(rt, key, policy)
    let versions = tags.length > 0 ? rt.tags.capture(tags) : NO_VERSIONS
    if (isPromise(versions)) versions = await versions
    // One clock read per set: stamping and every layer's TTL use it (a clock read is not free).
    let now = rt.clock.now()
    const { entry, jitter } = stampedEntry(
      rt,
      value,
      policy,
      key,
      storeKey,
      now,
      tags,
      versions,
      now,
    )
    if (tags.length > 0) {
      await rt.tags.extendLife(entry.staleUntil - now)
      now = rt.clock.now()
    }
    // In-flight reads of the key are invalidated before and after the write (see #mutate).
    this.#invalidateKey(storeKey)
    try {
      const written = writeThrough(rt, key, storeKey, entry, policy, jitter, now)
      if (isPromise(written)) await written
    } finally {
      this.#invalidateKey(storeKey)
    }
    this.#wrote(key)
  }

  /** Removes `key` from every layer. Reads started after this resolves never see the old value. */
  async delete(key: string): Promise<void> {
    await this.deleteMany([key])
  }

  /** Removes several keys from every layer, with one batch call per layer where it has one. */
  async deleteMany(keys: readonly string[]): Promise<void> {
    const storeKeys = this.#storeKeys(keys, 'deleteMany')
    await this.#mutate(storeKeys, () => deleteThrough(this.#rt, keys, storeKeys))
    const { stats, events } = this.#rt
    stats.deletes += keys.length
    if (events.has('delete')) for (const key of keys) events.emit('delete', { key })
  }

  /** Values for `keys` in their order (`undefined` for misses), one batch read per layer. */
  async getMany<T = unknown>(keys: readonly string[]): Promise<(T | undefined)[]> {
    const storeKeys = this.#storeKeys(keys, 'getMany')
    const hits = await readMany(this.#rt, keys, storeKeys)
    return hits.map(
      (hit, i) =>
        (hit ? this.#hit(hit.layer, keys[i]!, hit.entry, hit.stale) : this.#miss(keys[i]!)) as
          | T
          | undefined,
    )
  }

  /**
   * Invalidates every entry carrying any of `tags`, in every policy and layer, at a cost that
   * does not depend on how many entries carry them (one counter per tag moves). Once this
   * resolves, reads on this instance never return a value computed before it.
   *
   * @example
   * await db.users.update(42, patch)
   * await cache.invalidateTags(['user:42'])
   */
  async invalidateTags(tags: readonly string[], options: InvalidateOptions = {}): Promise<void> {
    this.#checkOpen('invalidateTags')
    await this.#invalidate(checkTags(tags, 'invalidateTags tags'), options, 'invalidateTags')
  }

  /**
   * Invalidates every key under a key prefix: `invalidatePrefix('analytics:student:456')`
   * reaches `analytics:student:456:*`. Same O(1) cost as a tag: no scan, no key list.
   */
  async invalidatePrefix(prefix: string, options: InvalidateOptions = {}): Promise<void> {
    this.#checkOpen('invalidatePrefix')
    await this.#invalidate([this.#rt.prefixes.tagFor(prefix)], options, 'invalidatePrefix')
  }

  /** Removes every entry of this cache's namespace from every layer. */
  async clear(): Promise<void> {
    this.#checkOpen('clear')
    await this.#mutate(undefined, () => clearThrough(this.#rt))
    if (this.#rt.events.has('clear')) this.#rt.events.emit('clear', {})
  }

  /** Subscribes to an event; returns a function that unsubscribes. */
  on<E extends CacheEventName>(event: E, listener: CacheListener<E>): () => void {
    return this.#rt.events.on(event, listener)
  }

  /** Unsubscribes a listener added with `on`. */
  off<E extends CacheEventName>(event: E, listener: CacheListener<E>): void {
    this.#rt.events.off(event, listener)
  }

  /** A snapshot of the counters, overall and per layer. */
  stats(): CacheStats {
    return this.#rt.stats.snapshot()
  }

  /** Sets every counter back to zero. */
  resetStats(): void {
    this.#rt.stats.reset()
  }

  /**
   * Waits for running work, closes the layers (each closes only what it created) and drops
   * listeners. Later calls reject with `E_CLOSED`. Safe to call twice.
   */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await Promise.allSettled([
      this.#flights.drain(),
      this.#reads.drain(),
      this.#refreshes.drain(),
      ...this.#pending,
    ])
    for (let i = 0; i < this.#rt.layers.length; i++) {
      try {
        await this.#rt.layers[i]!.close?.()
      } catch (error) {
        this.#rt.layerError(i, 'close', undefined, error)
      }
    }
    this.#rt.events.removeAll()
  }

  async #getSlow<T>(
    key: string,
    storeKey: string,
    top: Entry | undefined | Promise<Entry | undefined>,
  ) {
    if (isPromise(top)) top.catch(noop) // a joined flight never awaits it
    const hit = await this.#reads.run(storeKey, (flight) =>
      readThrough(this.#rt, key, storeKey, flight, { answer: top }),
    )
    return (hit ? this.#hit(hit.layer, key, hit.entry, hit.stale) : this.#miss(key)) as
      | T
      | undefined
  }

  #job<T>(
    key: string,
    storeKey: string,
    factory: Factory<T>,
    options: WrapOptions<T> | undefined,
  ): Computation<T> {
    const tags = options?.tags
    if (typeof tags !== 'function') {
      const policy = this.#rt.policies.resolve(options as CallOptions | undefined, 'wrap options')
      return { key, storeKey, factory, policy }
    }
    const { tags: _, ...rest } = options!
    const policy = this.#rt.policies.resolve(rest, 'wrap options')
    return { key, storeKey, factory, policy, tagsOf: tags }
  }

  /** Recomputes an entry served stale, once (joining a refresh already running), in the background. */
  #refresh<T>(job: Computation<T>): void {
    const rt = this.#rt
    const refresh = this.#refreshes.run(job.storeKey, async (flight) => {
      // Announced only when it starts here: stale reads that join it are not new refreshes.
      if (rt.events.has('refresh')) rt.events.emit('refresh', { key: job.key })
      const { value, stored } = await computeAndStore(rt, job, flight, new Set())
      if (stored) this.#wrote(job.key)
      return value
    })
    rt.background(refresh.catch((error: unknown) => rt.layerError(-1, 'refresh', job.key, error)))
  }

  async #invalidate(
    tags: readonly string[],
    options: InvalidateOptions,
    operation: string,
  ): Promise<void> {
    const mode = options.mode ?? 'expire'
    if (mode !== 'expire' && mode !== 'stale') {
      throw invalidOption(
        `${operation} options.mode`,
        `must be 'expire' or 'stale', got ${describe(mode)}`,
      )
    }
    if (tags.length === 0) return
    try {
      await this.#rt.tags.bump(tags, mode)
    } catch (error) {
      throw new CacheError(
        'E_LAYER',
        `layercache: ${operation} could not move its tags in the tag store`,
        { cause: error },
      )
    }
    this.#rt.stats.invalidations += tags.length
    if (this.#rt.events.has('invalidate')) this.#rt.events.emit('invalidate', { tags, mode })
  }

  /** The top layer's answer; a layer that throws synchronously counts as a miss there. */
  #readTop(
    key: string,
    storeKey: string,
    now: number,
  ): Entry | undefined | Promise<Entry | undefined> {
    try {
      return this.#top.get(storeKey, now)
    } catch (error) {
      this.#rt.layerError(0, 'get', key, error)
      return undefined
    }
  }

  /** Runs a mutation with in-flight reads of its keys invalidated before and after it. */
  async #mutate(
    storeKeys: readonly string[] | undefined,
    operation: () => Promise<void>,
  ): Promise<void> {
    this.#invalidateFlights(storeKeys)
    try {
      await operation()
    } finally {
      this.#invalidateFlights(storeKeys)
    }
  }

  #invalidateKey(storeKey: string): void {
    this.#rt.epoch++
    this.#flights.invalidate(storeKey)
    this.#reads.invalidate(storeKey)
    this.#refreshes.invalidate(storeKey)
  }

  #invalidateFlights(storeKeys: readonly string[] | undefined): void {
    this.#rt.epoch++
    if (storeKeys === undefined) {
      this.#flights.invalidateAll()
      this.#reads.invalidateAll()
      this.#refreshes.invalidateAll()
      return
    }
    for (const storeKey of storeKeys) this.#invalidateKey(storeKey)
  }

  /** Counts a hit (per-layer counters are kept by the read paths) and returns the value. */
  #hit(layer: number, key: string, entry: Entry, stale = false): unknown {
    const { stats, events } = this.#rt
    stats.hits++
    if (stale) {
      stats.stale++
      if (events.has('stale')) events.emit('stale', { key, layer: this.#rt.layerNames[layer]! })
    }
    if (events.has('hit')) events.emit('hit', { key, layer: this.#rt.layerNames[layer]! })
    return entry.value
  }

  #miss(key: string): undefined {
    this.#rt.stats.misses++
    if (this.#rt.events.has('miss')) this.#rt.events.emit('miss', { key })
    return undefined
  }

  #wrote(key: string): void {
    this.#rt.stats.sets++
    if (this.#rt.events.has('set')) this.#rt.events.emit('set', { key })
  }

  #storeKey(key: string, operation: string): string {
    this.#checkOpen(operation)
    return toStoreKey(key, this.#maxKeyLength)
  }

  #storeKeys(keys: readonly string[], operation: string): string[] {
    this.#checkOpen(operation)
    if (!Array.isArray(keys)) {
      throw invalidOption(`${operation} keys`, `must be an array of keys, got ${describe(keys)}`)
    }
    return keys.map((key) => toStoreKey(key, this.#maxKeyLength))
  }

  #checkOpen(operation: string): void {
    if (this.#closed)
      throw new CacheError('E_CLOSED', `layercache: ${operation}() called after close()`)
  }
}
