import { isPromise, type Layer } from '../layers/layer.js'
import { type Entry, newEntry } from './entry.js'
import { CacheError, isValueError } from './errors.js'
import { applyJitter, keepFor, type ResolvedPolicy } from './policies.js'
import type { Runtime } from './runtime.js'

const noop = () => {}

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
 * Runs `operation` on every layer, bottom-up, awaiting asynchronous layers in turn; answers
 * synchronously when every layer did (a memory-only cache writes without a promise), and
 * otherwise continues from each layer's promise (no async frame per write). Work for a flight
 * (`guard` given, i.e. `wrap`) always fails open, even with `throwOnLayerError`. Layers in
 * `detached` are not awaited: their writes finish in the background (tracked for `close()`),
 * though what they throw synchronously (a value that cannot be encoded) still aborts. A value
 * error may be thrown synchronously: call it from an async function.
 */
function bottomUp(
  rt: Runtime,
  key: string | undefined,
  name: string,
  operation: (layer: Layer, index: number) => unknown,
  done: (index: number) => void,
  guard?: Guard,
  detached?: ReadonlySet<number>,
): boolean | Promise<boolean> {
  return new Walk(rt, key, name, operation, done, guard, detached).from(rt.layers.length - 1)
}

/** One bottom-up walk over the layers (see {@link bottomUp}). */
class Walk {
  #failures: Failures | undefined // made on the first failure only: writes rarely fail

  constructor(
    readonly rt: Runtime,
    readonly key: string | undefined,
    readonly name: string,
    readonly operation: (layer: Layer, index: number) => unknown,
    readonly done: (index: number) => void,
    readonly guard: Guard | undefined,
    readonly detached: ReadonlySet<number> | undefined,
  ) {}

  /** Walks from layer `i` upwards (towards index 0). */
  from(i: number): boolean | Promise<boolean> {
    const { rt, guard } = this
    for (; i >= 0; i--) {
      if (guard?.invalidated) return false
      let result: unknown
      try {
        result = this.operation(rt.layers[i]!, i)
      } catch (error) {
        this.#fail(i, error)
        continue
      }
      if (!isPromise(result)) {
        this.done(i)
        continue
      }
      if (this.detached?.has(i)) {
        const at = i
        rt.background(
          result.then(
            () => this.done(at),
            (error) => rt.layerError(at, this.name, this.key, error),
          ),
        )
        continue
      }
      const at = i
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

/**
 * Writes `entry` to every layer, bottom-up, each with its own TTL: the policy's cap for that
 * layer (jittered like the TTL) bounded by the entry's life. A layer whose TTL comes out as 0
 * has the key deleted instead, so it never serves an older value. Bottom-up order means a
 * concurrent read can only backfill from a lower layer that already holds the new value.
 * Returns false, having stopped, when `guard` was invalidated meanwhile. Writes to layers in
 * `detached` run in the background (see `bottomUp`).
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
  let deleted: number[] | undefined // layers this policy keeps the key out of (TTL 0)
  return bottomUp(
    rt,
    key,
    'set',
    (layer, i) => {
      const cap = policy.layerTtl[i]
      let ttlMs = Math.min(cap === undefined ? life : applyJitter(policy, cap, jitter), life)
      if (rt.local[i]) ttlMs = Math.min(ttlMs, rt.localCap)
      if (ttlMs > 0) return layer.set(storeKey, entry, ttlMs)
      deleted ??= []
      deleted.push(i)
      return layer.delete(storeKey)
    },
    (i) => {
      if (!deleted?.includes(i)) rt.stats.layers[i]!.sets++
    },
    guard,
    detached,
  )
}

/** Deletes keys from every layer, bottom-up (see `writeThrough` for why). */
export async function deleteThrough(
  rt: Runtime,
  keys: readonly string[],
  storeKeys: readonly string[],
): Promise<void> {
  await bottomUp(
    rt,
    keys.length === 1 ? keys[0] : undefined,
    'delete',
    (layer) => deleteBatch(layer, storeKeys),
    (i) => {
      rt.stats.layers[i]!.deletes += storeKeys.length
    },
  )
}

function deleteBatch(layer: Layer, storeKeys: readonly string[]): unknown {
  if (storeKeys.length === 1) return layer.delete(storeKeys[0]!)
  if (layer.deleteMany) return layer.deleteMany(storeKeys)
  return Promise.all(storeKeys.map((storeKey) => layer.delete(storeKey)))
}

/** Clears every layer, bottom-up. */
export async function clearThrough(rt: Runtime): Promise<void> {
  await bottomUp(rt, undefined, 'clear', (layer) => layer.clear(), noop)
}
