import { isPromise, type Layer } from '../layers/layer.js'
import { type Entry, newEntry } from './entry.js'
import { CacheError, isValueError } from './errors.js'
import { applyJitter, keepFor, type ResolvedPolicy } from './policies.js'
import type { Runtime } from './runtime.js'

/** Something whose writes must stop once it is invalidated (a flight). */
interface Guard {
  readonly invalidated: boolean
}

/** Builds the envelope for a value computed (or set) under `policy` (tags are stamped apart). */
export function buildEntry(
  value: unknown,
  policy: ResolvedPolicy,
  key: string,
  storeKey: string,
  startedAt: number,
  now: number,
  ttl: number,
): Entry {
  const entry = newEntry(value, startedAt, now + ttl, now + keepFor(policy, ttl))
  if (now > startedAt) entry.computeMs = now - startedAt
  if (policy.name !== 'default') entry.policy = policy.name
  if (storeKey !== key) entry.key = key
  return entry
}

/**
 * Collects layer failures of one mutation: each is reported as it happens; a value error
 * (unencodable, too large) aborts the mutation; with `throwOnLayerError` the first failure is
 * thrown once every layer had its turn.
 */
class Failures {
  #first: { layer: string; error: unknown } | undefined
  constructor(
    readonly rt: Runtime,
    readonly key: string | undefined,
  ) {}

  add(index: number, operation: string, error: unknown): void {
    if (isValueError(error)) throw error
    this.rt.layerError(index, operation, this.key, error)
    this.#first ??= { layer: this.rt.layerNames[index]!, error }
  }

  settle(operation: string): void {
    if (!this.#first || !this.rt.throwOnLayerError) return
    const { layer, error } = this.#first
    const what = this.key === undefined ? '' : ` of key "${this.key}"`
    throw new CacheError('E_LAYER', `layercache: ${operation}${what} failed in layer "${layer}"`, {
      cause: error,
    })
  }
}

/**
 * Runs one operation on every layer, bottom-up, awaiting asynchronous layers in turn; answers
 * synchronously when every layer did (a memory-only cache writes without a promise), and
 * otherwise continues from each layer's promise (no async frame, no closure per write: the
 * walk's subclass is the operation). Work for a flight (`guard` given, i.e. `wrap`) always
 * fails open, even with `throwOnLayerError`. Layers in `detached` are not awaited: their writes
 * finish in the background (tracked for `close()`), though what they throw synchronously (a
 * value that cannot be encoded) still aborts. A value error may be thrown synchronously: call
 * it from an async function.
 */
abstract class Walk {
  #failures: Failures | undefined // made on the first failure only: writes rarely fail

  constructor(
    readonly rt: Runtime,
    readonly key: string | undefined,
    readonly name: string,
    readonly guard: Guard | undefined,
    readonly detached: ReadonlySet<number> | undefined,
  ) {}

  /** The operation on layer `i`: a value, or a promise of it. */
  abstract step(layer: Layer, i: number): unknown

  /** Layer `i` did it (counted here). */
  abstract done(i: number): void

  /** Walks from the bottom layer up. */
  run(): boolean | Promise<boolean> {
    return this.from(this.rt.layers.length - 1)
  }

  /** Walks from layer `i` upwards (towards index 0). */
  from(i: number): boolean | Promise<boolean> {
    const { rt, guard } = this
    for (; i >= 0; i--) {
      if (guard?.invalidated) return false
      let result: unknown
      try {
        result = this.step(rt.layers[i]!, i)
      } catch (error) {
        this.#fail(i, error)
        continue
      }
      if (!isPromise(result)) {
        this.done(i)
        continue
      }
      const at = i
      if (this.detached?.has(i)) {
        rt.background(
          result.then(
            () => this.done(at),
            (error) => rt.layerError(at, this.name, this.key, error),
          ),
        )
        continue
      }
      return result.then(
        () => {
          this.done(at)
          return this.from(at - 1)
        },
        (error: unknown) => {
          this.#fail(at, error)
          return this.from(at - 1)
        },
      )
    }
    // A flight (wrap) has already produced its value: a layer's failure never costs the caller it.
    if (!guard) this.#failures?.settle(this.name)
    return !guard?.invalidated
  }

  #fail(index: number, error: unknown): void {
    this.#failures ??= new Failures(this.rt, this.key)
    this.#failures.add(index, this.name, error)
  }
}

/** Writes one entry to every layer, each with its own TTL (see {@link writeThrough}). */
class WriteWalk extends Walk {
  /** Layers this policy keeps the key out of (TTL 0): deleted there, not counted as sets. */
  #deleted: number[] | undefined

  constructor(
    rt: Runtime,
    key: string,
    readonly storeKey: string,
    readonly entry: Entry,
    readonly policy: ResolvedPolicy,
    readonly jitter: number,
    readonly life: number,
    guard: Guard | undefined,
    detached: ReadonlySet<number> | undefined,
  ) {
    super(rt, key, 'set', guard, detached)
  }

  step(layer: Layer, i: number): unknown {
    const { policy, life, rt } = this
    const cap = policy.layerTtl[i]
    let ttlMs = Math.min(cap === undefined ? life : applyJitter(policy, cap, this.jitter), life)
    if (rt.local[i]) ttlMs = Math.min(ttlMs, rt.localCap)
    if (ttlMs > 0) return layer.set(this.storeKey, this.entry, ttlMs)
    this.#deleted ??= []
    this.#deleted.push(i)
    return layer.delete(this.storeKey)
  }

  done(i: number): void {
    if (!this.#deleted?.includes(i)) this.rt.stats.layers[i]!.sets++
  }
}

/** Deletes keys from every layer. */
class DeleteWalk extends Walk {
  constructor(
    rt: Runtime,
    key: string | undefined,
    readonly storeKeys: readonly string[],
  ) {
    super(rt, key, 'delete', undefined, undefined)
  }

  step(layer: Layer): unknown {
    const storeKeys = this.storeKeys
    if (storeKeys.length === 1) return layer.delete(storeKeys[0]!)
    if (layer.deleteMany) return layer.deleteMany(storeKeys)
    return Promise.all(storeKeys.map((storeKey) => layer.delete(storeKey)))
  }

  done(i: number): void {
    this.rt.stats.layers[i]!.deletes += this.storeKeys.length
  }
}

/** Clears every layer. */
class ClearWalk extends Walk {
  constructor(rt: Runtime) {
    super(rt, undefined, 'clear', undefined, undefined)
  }

  step(layer: Layer): unknown {
    return layer.clear()
  }

  done(): void {}
}

/**
 * Writes `entry` to every layer, bottom-up, each with its own TTL: the policy's cap for that
 * layer (jittered like the TTL) bounded by the entry's life. A layer whose TTL comes out as 0
 * has the key deleted instead, so it never serves an older value. Bottom-up order means a
 * concurrent read can only backfill from a lower layer that already holds the new value.
 * Returns false, having stopped, when `guard` was invalidated meanwhile. Writes to layers in
 * `detached` run in the background (see `Walk`).
 */
export function writeThrough(
  rt: Runtime,
  key: string,
  storeKey: string,
  entry: Entry,
  policy: ResolvedPolicy,
  jitter: number,
  now: number,
  guard?: Guard,
  detached?: ReadonlySet<number>,
): boolean | Promise<boolean> {
  const life = entry.staleUntil - now
  return new WriteWalk(rt, key, storeKey, entry, policy, jitter, life, guard, detached).run()
}

/** Deletes keys from every layer, bottom-up (see `writeThrough` for why). */
export async function deleteThrough(
  rt: Runtime,
  keys: readonly string[],
  storeKeys: readonly string[],
): Promise<void> {
  await new DeleteWalk(rt, keys.length === 1 ? keys[0] : undefined, storeKeys).run()
}

/** Clears every layer, bottom-up. */
export async function clearThrough(rt: Runtime): Promise<void> {
  await new ClearWalk(rt).run()
}
