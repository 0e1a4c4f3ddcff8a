/**
 * The envelope every layer stores for a key. Layers never look inside it: staleness, tags and
 * policies live in the core and travel here, so every layer supports every feature.
 *
 * Times are milliseconds on the writing instance's clock. They decide freshness only; ordering
 * against invalidations never compares clocks of two processes (see docs/tags-and-invalidation).
 */
export interface Entry<T = unknown> {
  /** The cached value. The memory layer holds it live: callers share the same object. */
  value: T
  /** When the computation of this value started. */
  createdAt: number
  /** Served as fresh while `now < freshUntil`. May be `Infinity`. */
  freshUntil: number
  /** May be served stale (by a policy that allows it) while `now < staleUntil`; `>= freshUntil`. */
  staleUntil: number
  /** Name of the policy it was written under, when not `default` (backfills use its layer TTLs). */
  policy?: string
  /** Tags this entry carries (policy defaults, call tags, and its key's prefixes). */
  tags?: readonly string[]
  /** The versions of `tags` seen when its computation started: `[hard, soft]` per tag. */
  tagVersions?: readonly number[]
  /** How long the computation took, in ms (used by early refresh). */
  computeMs?: number
  /** The full key, present only when the entry is stored under a hash of a long key. */
  key?: string
  /** A size hint in bytes (e.g. the encoded size read from a remote layer). */
  size?: number
  /** @internal Memo of the last tag check: the tag-state epoch it was made at. Never stored. */
  checkedEpoch?: number
  /** @internal Memo of the last tag check: valid until then. Never stored. */
  checkedUntil?: number
  /** @internal Memo of the last tag check: its verdict. Never stored. */
  verdict?: 'fresh' | 'stale' | 'invalid' | 'unknown'
}

/**
 * A new envelope with every field present, in one order: entries then share one hidden class,
 * which keeps property reads on the hit path monomorphic (and fast).
 */
export function newEntry(
  value: unknown,
  createdAt: number,
  freshUntil: number,
  staleUntil: number,
): Entry {
  return {
    value,
    createdAt,
    freshUntil,
    staleUntil,
    policy: undefined,
    tags: undefined,
    tagVersions: undefined,
    computeMs: undefined,
    key: undefined,
    size: undefined,
    checkedEpoch: undefined,
    checkedUntil: undefined,
    verdict: undefined,
  }
}

/** True when the entry belongs to `key` (guards against hashed-key collisions). */
export function entryMatchesKey(entry: Entry, key: string, storeKey: string): boolean {
  return storeKey === key ? entry.key === undefined : entry.key === key
}
