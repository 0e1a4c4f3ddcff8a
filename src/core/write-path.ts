import { isPromise, type Layer } from '../layers/layer.js'
import { type Entry, newEntry } from './entry.js'
import { CacheError, isValueError } from './errors.js'
import { applyJitter, type ResolvedPolicy } from './policies.js'
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
  const freshUntil = now + ttl
  const entry = newEntry(value, startedAt, freshUntil, freshUntil)
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
 * Runs `operation` on every layer, bottom-up, awaiting asynchronous layers in turn. Work for a
 * flight (`guard` given, i.e. `wrap`) always fails open, even with `throwOnLayerError`. Layers in
 * `detached` are not awaited: their writes finish in the background (tracked for `close()`),
 * though what they throw synchronously (a value that cannot be encoded) still aborts.
 */
async function bottomUp(
  rt: Runtime,
  key: string | undefined,
  name: string,
  operation: (layer: Layer, index: number) => unknown,
  done: (index: number) => void,
  guard?: Guard,
  detached?: ReadonlySet<number>,
): Promise<boolean> {
  let failures: Failures | undefined // made on the first failure only: writes rarely fail
  for (let i = rt.layers.length - 1; i >= 0; i--) {
    if (guard?.invalidated) return false
    try {
      const result = operation(rt.layers[i]!, i)
      if (isPromise(result)) {
        if (detached?.has(i)) {
          rt.background(
            result.then(
              () => done(i),
              (error) => rt.layerError(i, name, key, error),
            ),
          )
          continue
        }
        await result
      }
      done(i)
    } catch (error) {
      failures ??= new Failures(rt, key)
      failures.add(i, name, error)
    }
  }
  // A flight (wrap) has already produced its value: a layer's failure never costs the caller it.
  if (!guard) failures?.settle(name)
  return !guard?.invalidated
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
  guard?: Guard,
  detached?: ReadonlySet<number>,
): Promise<boolean> {
  const life = entry.staleUntil - rt.clock.now()
  let deleted: number[] | undefined // layers this policy keeps the key out of (TTL 0)
  return bottomUp(
    rt,
    key,
    'set',
    (layer, i) => {
      const cap = policy.layerTtl[i]
      const ttlMs = Math.min(cap === undefined ? life : applyJitter(policy, cap, jitter), life)
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
