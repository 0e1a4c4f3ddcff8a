import { isPromise, type Layer, type LayerSetItem } from '../layers/layer.js'
import type { TagVerdict } from '../tags/tag-state.js'
import { type Entry, entryMatchesKey } from './entry.js'
import type { Runtime } from './runtime.js'

/**
 * An entry found in a layer: `fresh`; `stale` (fresh, but its tags were invalidated in `stale`
 * mode: served while it refreshes); or `expired` (past its TTL but within the life its policy
 * gave it for `staleWhileRevalidate` or `staleIfError`: only `wrap` may serve it).
 */
export interface Hit {
  entry: Entry
  layer: number
  state: 'fresh' | 'stale' | 'expired'
}

/** Something that may be invalidated while a read runs (a flight). */
interface Guard {
  readonly invalidated: boolean
}

/** True when `entry` exists, belongs to `key` and is fresh at `now` (tags not considered). */
export function isFreshFor(
  entry: Entry | undefined,
  key: string,
  storeKey: string,
  now: number,
): entry is Entry {
  return entry !== undefined && now < entry.freshUntil && entryMatchesKey(entry, key, storeKey)
}

/**
 * Reads `storeKey` from the top layer downwards; the first fresh entry whose tags have not
 * moved wins and is backfilled into the layers above it (unless `guard` was invalidated
 * meanwhile). An entry that may only be served stale (tags invalidated in `stale` mode, or
 * expired within its stale life) is kept as a fallback, the newest one found, while lower
 * layers are asked for a fresh one. A failing layer counts as a miss for that layer, and its
 * index is added to `failed`. `top`, when given, holds the top layer's answer, already asked
 * for (a value, or a promise of it). `from` skips the layers above it.
 */
export async function readThrough(
  rt: Runtime,
  key: string,
  storeKey: string,
  guard: Guard | undefined,
  top?: { answer: Entry | undefined | Promise<Entry | undefined> },
  failed?: Set<number>,
  from = 0,
): Promise<Hit | undefined> {
  let fallback: Hit | undefined
  for (let i = from; i < rt.layers.length; i++) {
    let entry: Entry | undefined
    try {
      entry = i === 0 && top ? await top.answer : await rt.layers[i]!.get(storeKey)
    } catch (error) {
      rt.layerError(i, 'get', key, error)
      failed?.add(i)
      continue
    }
    const now = rt.clock.now()
    const usable =
      entry !== undefined && now < entry.staleUntil && entryMatchesKey(entry, key, storeKey)
    // Known here (untagged, or tags trusted): no promise; else the tag store is asked first.
    let verdict: TagVerdict = usable ? rt.tags.check(entry!, now) : 'invalid'
    if (verdict === 'unknown') {
      await rt.tags.load(entry!.tags!)
      verdict = rt.tags.check(entry!, rt.clock.now(), true)
    }
    const fresh = usable && now < entry!.freshUntil
    if (verdict === 'invalid' || verdict === 'unknown') {
      rt.stats.layers[i]!.misses++
      continue
    }
    if (fresh) rt.stats.layers[i]!.hits++
    else rt.stats.layers[i]!.misses++
    const state = !fresh ? 'expired' : verdict === 'stale' ? 'stale' : 'fresh'
    const hit: Hit = { entry: entry!, layer: i, state }
    if (state !== 'fresh') {
      if (!fallback || hit.entry.createdAt > fallback.entry.createdAt) fallback = hit
      continue
    }
    if (i > 0 && !guard?.invalidated)
      backfill(rt, key, [{ key: storeKey, entry: hit.entry, ttlMs: 0 }], i)
    return hit
  }
  return fallback
}

/**
 * Reads many keys with one batch call per layer, only for the keys the layers above lacked.
 * Upper layers are backfilled unless a mutation overlapped the read.
 */
export async function readMany(
  rt: Runtime,
  keys: readonly string[],
  storeKeys: readonly string[],
): Promise<(Hit | undefined)[]> {
  const epoch = rt.epoch
  const found: (Hit | undefined)[] = new Array(keys.length).fill(undefined)
  let pending = keys.map((_, i) => i)
  for (let i = 0; i < rt.layers.length && pending.length > 0; i++) {
    let entries: (Entry | undefined)[]
    try {
      entries = await getBatch(
        rt.layers[i]!,
        pending.map((p) => storeKeys[p]!),
      )
    } catch (error) {
      rt.layerError(i, 'getMany', undefined, error)
      continue
    }
    await loadTags(rt, entries)
    const now = rt.clock.now()
    const stillMissing: number[] = []
    const hits: LayerSetItem[] = []
    pending.forEach((p, j) => {
      const entry = entries[j]
      const verdict = isFreshFor(entry, keys[p]!, storeKeys[p]!, now)
        ? rt.tags.check(entry, now, true)
        : 'invalid'
      if (verdict === 'fresh' || verdict === 'stale') {
        found[p] = { entry: entry!, layer: i, state: verdict }
        rt.stats.layers[i]!.hits++
        if (verdict === 'fresh') hits.push({ key: storeKeys[p]!, entry: entry!, ttlMs: 0 })
      } else {
        rt.stats.layers[i]!.misses++
        stillMissing.push(p)
      }
    })
    if (i > 0 && hits.length > 0 && rt.epoch === epoch) backfill(rt, undefined, hits, i)
    pending = stillMissing
  }
  return found
}

/** Loads, in one go, the tags of a batch of entries that are not known here. */
async function loadTags(rt: Runtime, entries: readonly (Entry | undefined)[]): Promise<void> {
  const now = rt.clock.now()
  const unknown = new Set<string>()
  for (const entry of entries) {
    if (entry?.tags && rt.tags.check(entry, now) === 'unknown')
      for (const tag of entry.tags) unknown.add(tag)
  }
  if (unknown.size > 0) await rt.tags.load([...unknown])
}

async function getBatch(layer: Layer, keys: string[]): Promise<(Entry | undefined)[]> {
  if (layer.getMany) return await layer.getMany(keys)
  return await Promise.all(keys.map((key) => layer.get(key)))
}

/**
 * Copies entries found in layer `from` into every layer above it, bottom-up, each with the
 * entry's remaining life capped by that layer's TTL under the entry's own policy.
 */
function backfill(rt: Runtime, key: string | undefined, items: LayerSetItem[], from: number): void {
  const now = rt.clock.now()
  for (let j = from - 1; j >= 0; j--) {
    const batch: LayerSetItem[] = []
    for (const item of items) {
      const policy = rt.policies.get(item.entry.policy ?? 'default') ?? rt.policies.default
      const cap = policy.layerTtl[j] ?? Number.POSITIVE_INFINITY
      let ttlMs = Math.min(cap, item.entry.staleUntil - now)
      if (rt.local[j]) ttlMs = Math.min(ttlMs, rt.localCap)
      if (ttlMs > 0) batch.push({ key: item.key, entry: item.entry, ttlMs })
    }
    if (batch.length > 0) writeBatch(rt, j, batch, key)
  }
}

function writeBatch(
  rt: Runtime,
  index: number,
  batch: LayerSetItem[],
  key: string | undefined,
): void {
  const layer = rt.layers[index]!
  const fail = (error: unknown) => rt.layerError(index, 'backfill', key, error)
  try {
    const result: unknown =
      batch.length > 1 && layer.setMany
        ? layer.setMany(batch)
        : batch.length === 1
          ? layer.set(batch[0]!.key, batch[0]!.entry, batch[0]!.ttlMs)
          : Promise.all(batch.map((item) => layer.set(item.key, item.entry, item.ttlMs)))
    if (isPromise(result)) rt.background(result.catch(fail))
  } catch (error) {
    fail(error)
  }
}
