import type { Clock } from '../core/clock.js'
import type { Entry } from '../core/entry.js'
import { type CacheError, invalidOption } from '../core/errors.js'
import type { LockStore } from '../core/lock.js'
import type { TagStore } from '../tags/tag-store.js'
import type { LayerHealth } from './guard.js'

/** A value, or a promise of it: layers in memory answer synchronously, remote ones do not. */
export type MaybePromise<T> = T | Promise<T>

/** What a cache hands each of its layers once, when it is created. */
export interface LayerContext {
  /** The cache's namespace. A layer over a shared store must prefix every key with it. */
  readonly namespace: string
  /** The cache's clock; a layer that tracks expiry itself must use it. */
  readonly clock: Clock
  /**
   * Reports a failure the layer handled on its own (a lost connection, an opened circuit),
   * so it reaches the cache's `error` event and counters.
   */
  report(operation: string, error: unknown, key?: string): void
}

/** One item of a batch write. */
export interface LayerSetItem {
  key: string
  entry: Entry
  /** Time to live in ms for this layer; positive, may be `Infinity`. */
  ttlMs: number
}

/**
 * A storage level of a cache. Small on purpose: the core implements policies, staleness, tags
 * and single flight on top, and falls back to single calls where a batch method is missing.
 * Layers throw on failure; the core decides what an error means.
 */
export interface Layer {
  /** Unique within a cache; names the layer in policies (`layers: { memory: {...} }`), stats and errors. */
  readonly name: string
  /** Called once by `createCache`. A layer may belong to one cache only. */
  bind?(context: LayerContext): void
  /**
   * The entry under `key`, or `undefined`. `now`, when given, is the cache clock's current
   * time, read once by the caller; a layer that checks expiry may use it instead of reading
   * the clock again (reading time is a large share of an in-memory hit).
   */
  get(key: string, now?: number): MaybePromise<Entry | undefined>
  /** Stores `entry` under `key` for `ttlMs` milliseconds. */
  set(key: string, entry: Entry, ttlMs: number): MaybePromise<void>
  /** Removes `key`. Removing an absent key is not an error. */
  delete(key: string): MaybePromise<void>
  /** Removes every key of this cache's namespace, and nothing else. */
  clear(): MaybePromise<void>
  /** Batch read, results in the order of `keys`. */
  getMany?(keys: readonly string[]): MaybePromise<(Entry | undefined)[]>
  /** Batch write. */
  setMany?(items: readonly LayerSetItem[]): MaybePromise<void>
  /** Batch delete. */
  deleteMany?(keys: readonly string[]): MaybePromise<void>
  /** Releases what the layer created (never a client the user passed in). */
  close?(): MaybePromise<void>
  /** The layer's health (circuit state, failures), for health checks. */
  health?(): LayerHealth
  /**
   * A store of tag versions shared by every instance using this layer's store, if it keeps one
   * (Redis does). The cache keeps its tag state in the first layer that offers it.
   */
  tagStore?(): TagStore
  /**
   * True for a layer private to this process (memory): the bus keeps such layers coherent
   * across instances, dropping what other instances changed. Shared stores (Redis) omit it.
   */
  readonly local?: boolean
  /**
   * Leases shared by every instance using this layer's store, if it can hold them (Redis
   * does), for `lock: 'distributed'`. The cache uses the first layer that offers it.
   */
  lockStore?(): LockStore
}

/** True when a layer answered with a promise rather than a value. */
export function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | undefined)?.then === 'function'
}

/** The error for a layer handed to a second cache (each layer belongs to one). */
export function boundTwice(name: string): CacheError {
  return invalidOption(
    'layers',
    `layer "${name}" already belongs to another cache; create one per cache`,
  )
}
