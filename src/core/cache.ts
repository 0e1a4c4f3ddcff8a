import { isPromise, type Layer } from '../layers/layer.js'
import type { CallOptions, PolicyBook } from './call-options.js'
import type { Clock } from './clock.js'
import type { Entry } from './entry.js'
import { CacheError, describe, invalidOption } from './errors.js'
import { type CacheEventName, type CacheListener, Emitter } from './events.js'
import { toStoreKey } from './keys.js'
import { applyJitter } from './policies.js'
import { type Hit, isFreshFor, readMany, readThrough } from './read-path.js'
import type { Runtime } from './runtime.js'
import { FlightTable } from './single-flight.js'
import { type CacheStats, StatsCounter } from './stats.js'
import { buildEntry, clearThrough, deleteThrough, writeThrough } from './write-path.js'

/** Computes a value on a miss. It may return the value or a promise of it. */
export type Factory<T> = () => T | Promise<T>

/** Everything a cache is built from, after `createCache` validated it. */
export interface CacheConfig {
  namespace: string
  layers: readonly Layer[]
  policies: PolicyBook
  clock: Clock
  random: () => number
  maxKeyLength: number
  throwOnLayerError: boolean
}

const noop = () => {}

/**
 * A multi-level cache. Create one with {@link createCache}; it orchestrates its layers and owns
 * all of its state (flights, counters, listeners): nothing is shared between instances.
 */
export class Cache {
  /** The namespace isolating this cache's keys in shared layers. */
  readonly namespace: string
  readonly #rt: Runtime
  readonly #top: Layer
  readonly #maxKeyLength: number
  readonly #flights = new FlightTable<unknown>()
  readonly #reads = new FlightTable<Hit | undefined>()
  readonly #pending = new Set<Promise<unknown>>()
  #closed = false

  /** @internal Use {@link createCache}. */
  constructor(config: CacheConfig) {
    this.namespace = config.namespace
    this.#top = config.layers[0]!
    this.#maxKeyLength = config.maxKeyLength
    const layerNames = config.layers.map((layer) => layer.name)
    const stats = new StatsCounter(layerNames)
    const events = new Emitter(() => stats.errors++)
    const pending = this.#pending
    this.#rt = {
      layers: config.layers,
      layerNames,
      clock: config.clock,
      random: config.random,
      stats,
      events,
      policies: config.policies,
      epoch: 0,
      throwOnLayerError: config.throwOnLayerError,
      layerError(layer, operation, key, error) {
        if ((error as CacheError | undefined)?.code === 'E_CIRCUIT_OPEN') {
          stats.layers[layer]!.skipped++
          return
        }
        stats.errors++
        stats.layers[layer]!.errors++
        if (events.has('error'))
          events.emit('error', { error, operation, key, layer: layerNames[layer] })
      },
      background(work) {
        pending.add(work)
        work.finally(() => pending.delete(work))
      },
    }
    const rt = this.#rt
    config.layers.forEach((layer, i) => {
      layer.bind?.({
        namespace: config.namespace,
        clock: config.clock,
        report: (operation, error, key) => rt.layerError(i, operation, key, error),
      })
    })
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
   */
  async get<T = unknown>(key: string): Promise<T | undefined> {
    const storeKey = this.#storeKey(key, 'get')
    const now = this.#rt.clock.now()
    const top = this.#readTop(key, storeKey, now)
    if (isPromise(top)) return this.#getSlow(key, storeKey, 0, top)
    if (isFreshFor(top, key, storeKey, now)) {
      this.#rt.stats.layers[0]!.hits++
      return this.#hit(0, key, top) as T
    }
    this.#rt.stats.layers[0]!.misses++
    return this.#getSlow(key, storeKey, 1, undefined)
  }

  /** Whether some layer holds a fresh value for `key` (without copying it upwards). */
  async has(key: string): Promise<boolean> {
    const storeKey = this.#storeKey(key, 'has')
    return (await readThrough(this.#rt, key, storeKey, 0, { invalidated: true })) !== undefined
  }

  /**
   * The value for `key` from the cache, or from `factory` on a miss, which is then written to
   * every layer. Concurrent misses of one key in this process run `factory` once and share its
   * value or its error; a rejected factory is not cached, nor is `undefined`.
   *
   * @example
   * const user = await cache.wrap(`user:${id}`, () => db.users.find(id), { policy: 'users' })
   */
  async wrap<T>(key: string, factory: Factory<T>, options?: CallOptions): Promise<T> {
    const storeKey = this.#storeKey(key, 'wrap')
    if (typeof factory !== 'function') {
      throw invalidOption('wrap factory', `must be a function, got ${describe(factory)}`)
    }
    if (options !== undefined) this.#rt.policies.check(options, 'wrap options')
    const now = this.#rt.clock.now()
    const top = this.#readTop(key, storeKey, now)
    if (isPromise(top)) return this.#wrapSlow(key, storeKey, factory, options, 0, top)
    if (isFreshFor(top, key, storeKey, now)) {
      this.#rt.stats.layers[0]!.hits++
      return this.#hit(0, key, top) as T
    }
    this.#rt.stats.layers[0]!.misses++
    return this.#wrapSlow(key, storeKey, factory, options, 1, undefined)
  }

  /** Writes `value` to every layer under `key`, each with its own TTL from the policy. */
  async set<T>(key: string, value: T, options?: CallOptions): Promise<void> {
    const storeKey = this.#storeKey(key, 'set')
    const rt = this.#rt
    const policy = rt.policies.resolve(options, 'set options')
    const now = rt.clock.now()
    const jitter = rt.random()
    const entry = buildEntry(
      value,
      policy,
      key,
      storeKey,
      now,
      now,
      applyJitter(policy, policy.ttl, jitter),
    )
    await this.#mutate([storeKey], async () => {
      await writeThrough(rt, key, storeKey, entry, policy, jitter)
    })
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
        (hit ? this.#hit(hit.layer, keys[i]!, hit.entry) : this.#miss(keys[i]!)) as T | undefined,
    )
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
    await Promise.allSettled([this.#flights.drain(), this.#reads.drain(), ...this.#pending])
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
    start: number,
    first: Promise<Entry | undefined> | undefined,
  ) {
    first?.catch(noop) // a joined flight never awaits it
    const hit =
      start < this.#rt.layers.length
        ? await this.#reads.run(storeKey, (flight) =>
            readThrough(this.#rt, key, storeKey, start, flight, first),
          )
        : undefined
    return (hit ? this.#hit(hit.layer, key, hit.entry) : this.#miss(key)) as T | undefined
  }

  #wrapSlow<T>(
    key: string,
    storeKey: string,
    factory: Factory<T>,
    options: CallOptions | undefined,
    start: number,
    first: Promise<Entry | undefined> | undefined,
  ): Promise<T> {
    first?.catch(noop)
    const rt = this.#rt
    const policy = rt.policies.resolve(options, 'wrap options')
    return this.#flights.run(storeKey, async (flight) => {
      // A layer that failed to answer this read is written in the background, so an outage
      // costs a cold call one timeout, not two.
      const failed = new Set<number>()
      const hit = await readThrough(rt, key, storeKey, start, flight, first, failed)
      if (hit) return this.#hit(hit.layer, key, hit.entry)
      this.#miss(key)
      rt.stats.factoryRuns++
      const startedAt = rt.clock.now()
      const value = await factory()
      if (value === undefined) return value
      const now = rt.clock.now()
      const jitter = rt.random()
      const entry = buildEntry(
        value,
        policy,
        key,
        storeKey,
        startedAt,
        now,
        applyJitter(policy, policy.ttl, jitter),
      )
      if (await writeThrough(rt, key, storeKey, entry, policy, jitter, flight, failed))
        this.#wrote(key)
      return value
    }) as Promise<T>
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
    this.#invalidate(storeKeys)
    try {
      await operation()
    } finally {
      this.#invalidate(storeKeys)
    }
  }

  #invalidate(storeKeys: readonly string[] | undefined): void {
    this.#rt.epoch++
    if (storeKeys === undefined) {
      this.#flights.invalidateAll()
      this.#reads.invalidateAll()
      return
    }
    for (const storeKey of storeKeys) {
      this.#flights.invalidate(storeKey)
      this.#reads.invalidate(storeKey)
    }
  }

  /** Counts a hit (per-layer counters are kept by the read paths) and returns the value. */
  #hit(layer: number, key: string, entry: Entry): unknown {
    const { stats, events } = this.#rt
    stats.hits++
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
    if (!Array.isArray(keys))
      throw invalidOption(`${operation} keys`, `must be an array of keys, got ${describe(keys)}`)
    return keys.map((key) => toStoreKey(key, this.#maxKeyLength))
  }

  #checkOpen(operation: string): void {
    if (this.#closed)
      throw new CacheError('E_CLOSED', `layercache: ${operation}() called after close()`)
  }
}
