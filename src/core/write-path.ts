import { isPromise, type Layer } from '../layers/layer.js'
import type { Entry } from './entry.js'
import { applyJitter, type ResolvedPolicy } from './policies.js'
import type { Runtime } from './runtime.js'

/** Something whose writes must stop once it is invalidated (a flight). */
interface Guard {
  readonly invalidated: boolean
}

/** Builds the envelope for a value computed (or set) under `policy`. */
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
  const entry: Entry = { value, createdAt: startedAt, freshUntil, staleUntil: freshUntil }
  if (now > startedAt) entry.computeMs = now - startedAt
  if (policy.name !== 'default') entry.policy = policy.name
  if (policy.tags.length > 0) entry.tags = [...new Set(policy.tags)]
  if (storeKey !== key) entry.key = key
  return entry
}

/**
 * Writes `entry` to every layer, bottom-up, each with its own TTL: the policy's cap for that
 * layer (jittered like the TTL) bounded by the entry's life. A layer whose TTL comes out as 0
 * has the key deleted instead, so it never serves an older value. Bottom-up order means a
 * concurrent read can only backfill from a lower layer that already holds the new value.
 * Stops when `guard` is invalidated, and then returns false. Layer failures are reported, not thrown.
 */
export async function writeThrough(
  rt: Runtime,
  key: string,
  storeKey: string,
  entry: Entry,
  policy: ResolvedPolicy,
  jitter: number,
  guard?: Guard,
): Promise<boolean> {
  const life = entry.staleUntil - rt.clock.now()
  for (let i = rt.layers.length - 1; i >= 0; i--) {
    if (guard?.invalidated) return false
    const cap = policy.layerTtl[i]
    const ttlMs = Math.min(cap === undefined ? life : applyJitter(policy, cap, jitter), life)
    const layer = rt.layers[i]!
    try {
      const result = ttlMs > 0 ? layer.set(storeKey, entry, ttlMs) : layer.delete(storeKey)
      if (isPromise(result)) await result
      if (ttlMs > 0) rt.stats.layers[i]!.sets++
    } catch (error) {
      rt.layerError(i, 'set', key, error)
    }
  }
  return !guard?.invalidated
}

/** Deletes keys from every layer, bottom-up (see `writeThrough` for why). Failures are reported. */
export async function deleteThrough(
  rt: Runtime,
  keys: readonly string[],
  storeKeys: readonly string[],
): Promise<void> {
  for (let i = rt.layers.length - 1; i >= 0; i--) {
    try {
      const result = deleteBatch(rt.layers[i]!, storeKeys)
      if (isPromise(result)) await result
      rt.stats.layers[i]!.deletes += storeKeys.length
    } catch (error) {
      rt.layerError(i, 'delete', keys.length === 1 ? keys[0] : undefined, error)
    }
  }
}

function deleteBatch(layer: Layer, storeKeys: readonly string[]): unknown {
  if (storeKeys.length === 1) return layer.delete(storeKeys[0]!)
  if (layer.deleteMany) return layer.deleteMany(storeKeys)
  return Promise.all(storeKeys.map((storeKey) => layer.delete(storeKey)))
}

/** Clears every layer, bottom-up. Failures are reported. */
export async function clearThrough(rt: Runtime): Promise<void> {
  for (let i = rt.layers.length - 1; i >= 0; i--) {
    try {
      const result = rt.layers[i]!.clear()
      if (isPromise(result)) await result
    } catch (error) {
      rt.layerError(i, 'clear', undefined, error)
    }
  }
}
