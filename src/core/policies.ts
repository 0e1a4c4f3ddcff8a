import { checkTags } from '../tags/tag-names.js'
import { type Duration, parseDuration } from './durations.js'
import { describe, invalidOption } from './errors.js'
import { checkObject } from './validate.js'

/** Options that apply to one layer only. */
export interface LayerPolicyOptions {
  /** How long this layer keeps the entry; never longer than the entry's life. `0` skips the layer. */
  ttl?: Duration
}

/**
 * How one kind of data is cached. Named policies extend `default`; a call may override any field.
 *
 * @example
 * { ttl: '1h', jitter: 0.1, layers: { memory: { ttl: '60s' } } }
 */
export interface PolicyOptions {
  /** How long an entry is fresh. Milliseconds or a string ('90s', '5m', '7d'); `Infinity` never expires; `0` does not cache. */
  ttl?: Duration
  /**
   * Spread expiries: each write takes a random amount off its TTLs, up to this fraction of the
   * TTL (a number from 0 to 1) or this duration (a string such as '30s'). TTLs never grow.
   */
  jitter?: number | string
  /** Tags every entry of this policy carries. */
  tags?: readonly string[]
  /** Per-layer overrides, by layer name. */
  layers?: Record<string, LayerPolicyOptions>
  /**
   * After `ttl`, `wrap` serves the expired value for this long while one background refresh
   * runs (single flight per key). Default 0.
   */
  staleWhileRevalidate?: Duration
  /**
   * When the factory throws or times out, `wrap` serves the last value for this long past its
   * expiry, and calls the factory again only every `staleIfErrorRetry`. Default 0.
   */
  staleIfError?: Duration
  /** While `staleIfError` serves an old value, how often the factory is tried again. Default '5s'. */
  staleIfErrorRetry?: Duration
  /**
   * When a stale value exists and the factory takes longer than this, `wrap` returns the stale
   * value; the factory finishes in the background and updates the cache. Default: none.
   */
  softTimeout?: Duration
  /**
   * A factory slower than this fails the call with `E_TIMEOUT` (or serves stale within
   * `staleIfError`); it still finishes in the background and updates the cache. Default: none.
   */
  hardTimeout?: Duration
  /**
   * Probabilistic early refresh (XFetch): a `wrap` hit close to expiry starts a background
   * refresh with a probability that grows as expiry nears, scaled by the entry's compute time.
   * `true` is beta 1; a number is beta (higher refreshes earlier). Default off.
   */
  earlyRefresh?: boolean | number
  /**
   * `'local'` (default): one factory run per key per process. `'distributed'`: one per key
   * across processes, through a lease in the first layer that offers leases (Redis); waiters
   * read the value from that layer. Without a reachable lease store, falls back to `'local'`.
   */
  lock?: 'local' | 'distributed'
  /** How long a distributed lease lasts unless its holder extends it (it does while alive). Default '10s'. */
  lockLease?: Duration
  /** Caches `undefined` from a factory for this long (negative caching). Default 0: not cached. */
  negativeTtl?: Duration
}

/** A policy after parsing: plain numbers, one slot per layer. */
export interface ResolvedPolicy {
  readonly name: string
  readonly ttl: number
  /** Fraction of each TTL that jitter may take off (0 when jitter is a duration). */
  readonly jitterFraction: number
  /** Milliseconds jitter may take off (0 when jitter is a fraction). */
  readonly jitterMs: number
  readonly tags: readonly string[]
  /** Per-layer TTL caps, indexed like the cache's layers; `undefined` means the entry's life. */
  readonly layerTtl: readonly (number | undefined)[]
  readonly staleWhileRevalidate: number
  readonly staleIfError: number
  readonly staleIfErrorRetry: number
  /** `Infinity` when none. */
  readonly softTimeout: number
  /** `Infinity` when none. */
  readonly hardTimeout: number
  /** XFetch beta; 0 when early refresh is off. */
  readonly earlyRefresh: number
  readonly lock: 'local' | 'distributed'
  readonly lockLease: number
  readonly negativeTtl: number
}

/** The policy used when neither the cache nor the call names one. */
export const BUILTIN_DEFAULT_POLICY: Readonly<PolicyOptions> = { ttl: '5m' }

/** Every field of a policy (and, with `policy`, of a call's options). */
export const POLICY_KEYS: ReadonlySet<string> = new Set([
  'ttl',
  'jitter',
  'tags',
  'layers',
  'staleWhileRevalidate',
  'staleIfError',
  'staleIfErrorRetry',
  'softTimeout',
  'hardTimeout',
  'earlyRefresh',
  'lock',
  'lockLease',
  'negativeTtl',
])
const LAYER_POLICY_KEYS: ReadonlySet<string> = new Set(['ttl'])

/** Merges `over` onto `base`; `layers` merge per layer name, `tags` concatenate. */
export function mergePolicies(base: PolicyOptions, over: PolicyOptions): PolicyOptions {
  const merged: PolicyOptions = { ...base, ...over }
  if (base.layers || over.layers) {
    const layers: Record<string, LayerPolicyOptions> = { ...base.layers }
    for (const [name, layer] of Object.entries(over.layers ?? {})) {
      layers[name] = { ...layers[name], ...layer }
    }
    merged.layers = layers
  }
  if (base.tags && over.tags) merged.tags = [...base.tags, ...over.tags]
  return merged
}

function parseJitter(value: unknown, path: string): { fraction: number; ms: number } {
  if (value === undefined) return { fraction: 0, ms: 0 }
  if (typeof value === 'number') {
    if (!(value >= 0 && value <= 1)) {
      throw invalidOption(
        path,
        `must be a fraction from 0 to 1 or a duration string such as '30s', got ${describe(value)}`,
      )
    }
    return { fraction: value, ms: 0 }
  }
  return { fraction: 0, ms: parseDuration(value, path) }
}

function parseTags(value: unknown, path: string): readonly string[] {
  if (value === undefined) return []
  return [...new Set(checkTags(value, path))]
}

/**
 * Validates and parses a policy. `path` names it in errors (e.g. `policies.dashboard`).
 * Unknown fields, negative or unparsable durations and unknown layer names are errors.
 */
export function compilePolicy(
  name: string,
  input: unknown,
  path: string,
  layerNames: readonly string[],
): ResolvedPolicy {
  const options = checkObject(input, path, POLICY_KEYS) as PolicyOptions & Record<string, unknown>
  const ttl = parseDuration(options.ttl ?? BUILTIN_DEFAULT_POLICY.ttl, `${path}.ttl`, true)
  const jitter = parseJitter(options.jitter, `${path}.jitter`)
  const tags = parseTags(options.tags, `${path}.tags`)
  const layerTtl: (number | undefined)[] = layerNames.map(() => undefined)
  if (options.layers !== undefined) {
    const layers = checkObject(options.layers, `${path}.layers`, new Set(layerNames))
    for (const [layerName, given] of Object.entries(layers)) {
      const layerPath = `${path}.layers.${layerName}`
      const layerOptions = checkObject(given, layerPath, LAYER_POLICY_KEYS)
      if (layerOptions.ttl !== undefined) {
        layerTtl[layerNames.indexOf(layerName)] = parseDuration(
          layerOptions.ttl,
          `${layerPath}.ttl`,
          true,
        )
      }
    }
  }
  const optional = (field: keyof PolicyOptions, fallback: number) =>
    options[field] === undefined
      ? fallback
      : parseDuration(options[field], `${path}.${field}`, true)
  const softTimeout = optional('softTimeout', Number.POSITIVE_INFINITY)
  const hardTimeout = optional('hardTimeout', Number.POSITIVE_INFINITY)
  for (const [field, value] of [
    ['softTimeout', softTimeout],
    ['hardTimeout', hardTimeout],
  ] as const) {
    if (value <= 0) throw invalidOption(`${path}.${field}`, 'must be above 0 (omit it for none)')
  }
  const staleIfErrorRetry = optional('staleIfErrorRetry', 5_000)
  if (!Number.isFinite(staleIfErrorRetry)) {
    throw invalidOption(`${path}.staleIfErrorRetry`, 'must be a finite duration')
  }
  const lock = options.lock ?? 'local'
  if (lock !== 'local' && lock !== 'distributed') {
    throw invalidOption(`${path}.lock`, `must be 'local' or 'distributed', got ${describe(lock)}`)
  }
  const lockLease = optional('lockLease', 10_000)
  if (!(lockLease > 0 && Number.isFinite(lockLease))) {
    throw invalidOption(`${path}.lockLease`, 'must be a finite duration above 0')
  }
  return {
    name,
    ttl,
    jitterFraction: jitter.fraction,
    jitterMs: jitter.ms,
    tags,
    layerTtl,
    staleWhileRevalidate: optional('staleWhileRevalidate', 0),
    staleIfError: optional('staleIfError', 0),
    staleIfErrorRetry,
    softTimeout,
    hardTimeout,
    earlyRefresh: parseEarlyRefresh(options.earlyRefresh, `${path}.earlyRefresh`),
    lock,
    lockLease,
    negativeTtl: optional('negativeTtl', 0),
  }
}

/**
 * The XFetch beta an `earlyRefresh` value means (0: off), or `undefined` when it means nothing.
 * Policies refuse such a value; a hit, which never throws over call options, reads it as off.
 */
export function earlyRefreshBeta(value: unknown): number | undefined {
  if (value === undefined || value === false) return 0
  if (value === true) return 1
  if (typeof value === 'number' && value > 0 && Number.isFinite(value)) return value
  return undefined
}

function parseEarlyRefresh(value: unknown, path: string): number {
  const beta = earlyRefreshBeta(value)
  if (beta !== undefined) return beta
  throw invalidOption(
    path,
    `must be true, false or a beta above 0 (e.g. 1), got ${describe(value)}`,
  )
}

/**
 * How long layers keep an entry of `policy` whose fresh life is `ttl`: as long as it may be
 * served, fresh or stale (`staleWhileRevalidate`, `staleIfError`).
 */
export function keepFor(policy: ResolvedPolicy, ttl: number): number {
  if (ttl <= 0) return ttl // not cached at all
  return ttl + Math.max(policy.staleWhileRevalidate, policy.staleIfError)
}

/** Takes a random share of the jitter allowance off `ttl`; `r` is in [0, 1). */
export function applyJitter(policy: ResolvedPolicy, ttl: number, r: number): number {
  if (ttl === Number.POSITIVE_INFINITY) return ttl
  const allowance =
    policy.jitterFraction > 0 ? ttl * policy.jitterFraction : Math.min(policy.jitterMs, ttl)
  return allowance > 0 ? ttl - r * allowance : ttl
}
