import { PREFIX_MARK } from '../tags/tag-names.js'
import type { Bus } from './bus.js'
import { type Entry, entryMatchesKey } from './entry.js'
import { errorMessage } from './errors.js'
import type { ResolvedPolicy } from './policies.js'
import { race } from './race.js'
import type { Runtime } from './runtime.js'

/** How a value reached the caller of {@link Cache.wrapResult} or {@link Cache.getResult}. */
export type ServedStatus = 'hit' | 'stale' | 'miss'

/** The stored envelope of a value, as far as callers may see it (times on the cache clock, ms). */
export interface EntryInfo {
  /** When the computation of the value started. */
  readonly createdAt: number
  /** Served as fresh until then; may be `Infinity`. */
  readonly freshUntil: number
  /** May be served stale until then (by a policy that allows it). */
  readonly staleUntil: number
  /** The tags it carries. */
  readonly tags: readonly string[]
  /** The policy it was written under. */
  readonly policy: string
}

/**
 * A value with where it came from: what `wrapResult` and `getResult` answer. HTTP helpers use
 * it for `X-Cache`, `Age` and `ETag`.
 */
export interface CacheResult<T> {
  readonly value: T
  /**
   * `hit`: fresh from a layer. `stale`: served past its freshness (stale-while-revalidate,
   * stale-if-error, or its tags invalidated in `stale` mode). `miss`: computed by the factory,
   * for this call or for a call it joined.
   */
  readonly status: ServedStatus
  /** The layer that served, or `undefined` when the factory did. */
  readonly layer: string | undefined
  /**
   * The envelope of the value served. `undefined` for a computed value that was not stored
   * (`ctx.skip()`, `undefined` without `negativeTtl`, or a tag invalidated while it ran).
   */
  readonly entry: EntryInfo | undefined
  /**
   * Milliseconds since the value's computation started, on the cache's clock, when served
   * (the HTTP `Age`); `undefined` with `entry`.
   */
  readonly ageMs: number | undefined
}

/** What `cache.inspect(key)` found in one layer. */
export interface LayerEntryReport {
  readonly layer: string
  /**
   * `fresh`: would be served. `stale`: past its freshness but within its stale window, or its
   * tags invalidated in `stale` mode. `expired`: kept by the layer but no longer servable.
   * `invalidated`: a tag of it was invalidated. `missing`: nothing under the key.
   * `error`: the layer failed or did not answer in time.
   */
  readonly state: 'fresh' | 'stale' | 'expired' | 'invalidated' | 'missing' | 'error'
  /** When the computation of the value started (cache clock, ms). */
  readonly createdAt?: number
  /** Milliseconds since `createdAt`. */
  readonly ageMs?: number
  /** Milliseconds of freshness left (negative once past it); `null` for no expiry. */
  readonly ttlLeftMs?: number | null
  /** Milliseconds it may still be served stale; `null` for no expiry. */
  readonly staleLeftMs?: number | null
  readonly tags?: readonly string[]
  readonly policy?: string
  /** The encoded size, when the layer knows it. */
  readonly sizeBytes?: number
  /** How long the computation took. */
  readonly computeMs?: number
  /** The layer's error, when `state` is `error`. */
  readonly error?: string
  /** The value itself: only when asked for (`{ value: true }`). */
  readonly value?: unknown
}

/** What `cache.inspect(key)` answers: the key's envelope in each layer, top first. */
export interface KeyReport {
  readonly key: string
  readonly layers: readonly LayerEntryReport[]
}

/** One layer in a {@link HealthReport}. */
export interface LayerHealthReport {
  readonly name: string
  /** `up` when a probe read answered; `down` when it failed, timed out, or the circuit is open. */
  readonly status: 'up' | 'down'
  /** How long the probe read took, ms (absent when the circuit skipped it). */
  readonly latencyMs?: number
  /** The circuit breaker's state; `none` for a layer without one (memory). */
  readonly breaker: 'closed' | 'open' | 'half-open' | 'none'
  /** Consecutive failures the breaker has counted. */
  readonly failures?: number
  /** Keys whose failed write still waits for repair. */
  readonly dirtyKeys?: number
  readonly error?: string
}

/** The bus in a {@link HealthReport}. */
export interface BusHealthReport {
  /** `up` when the bus is connected and Redis answered the probe. */
  readonly status: 'up' | 'down'
  readonly connected: boolean
  /** How long counting the listeners took, ms. */
  readonly latencyMs?: number
  /** Instances listening on the channel, this one included. */
  readonly listeners?: number
  readonly error?: string
}

/** What `cache.health()` answers. */
export interface HealthReport {
  /** `up`: every layer and the bus up. `degraded`: some down, the top layer up. `down`: the top layer down. */
  readonly status: 'up' | 'degraded' | 'down'
  readonly layers: readonly LayerHealthReport[]
  /** Absent when the cache has no bus. */
  readonly bus?: BusHealthReport
}

/** A policy as `cache.policy(name)` describes it: durations in ms, `null` for none. */
export interface PolicyInfo {
  readonly name: string
  readonly ttl: number | null
  /** The fraction of each TTL that jitter may take off (0 when jitter is a duration). */
  readonly jitterFraction: number
  /** The milliseconds jitter may take off (0 when jitter is a fraction). */
  readonly jitterMs: number
  readonly tags: readonly string[]
  /** Per-layer TTL caps, by layer name (layers without a cap are absent). */
  readonly layers: Readonly<Record<string, { ttl: number | null }>>
  readonly staleWhileRevalidate: number
  readonly staleIfError: number
  readonly staleIfErrorRetry: number
  readonly softTimeout: number | null
  readonly hardTimeout: number | null
  /** The XFetch beta; 0 when early refresh is off. */
  readonly earlyRefresh: number
  readonly lock: 'local' | 'distributed'
  readonly lockLease: number
  readonly negativeTtl: number
}

/** The key a health probe reads; it is never written. */
export const PROBE_KEY = '__layercache:health-probe'

/** An entry's own tags, without those the cache adds to track key prefixes (`#p:…`). */
function ownTags(entry: Entry): readonly string[] {
  const tags = entry.tags
  if (tags === undefined) return []
  return tags.some((tag) => tag.startsWith(PREFIX_MARK))
    ? tags.filter((tag) => !tag.startsWith(PREFIX_MARK))
    : tags
}

/** `entry` as callers may see it. */
export function entryInfo(entry: Entry): EntryInfo {
  return {
    createdAt: entry.createdAt,
    freshUntil: entry.freshUntil,
    staleUntil: entry.staleUntil,
    tags: ownTags(entry),
    policy: entry.policy ?? 'default',
  }
}

const finiteOrNull = (ms: number): number | null => (Number.isFinite(ms) ? ms : null)

/** `policy` with JSON-safe durations. */
export function policyInfo(policy: ResolvedPolicy, layerNames: readonly string[]): PolicyInfo {
  const layers: Record<string, { ttl: number | null }> = {}
  policy.layerTtl.forEach((ttl, i) => {
    if (ttl !== undefined) layers[layerNames[i]!] = { ttl: finiteOrNull(ttl) }
  })
  return {
    name: policy.name,
    ttl: finiteOrNull(policy.ttl),
    jitterFraction: policy.jitterFraction,
    jitterMs: policy.jitterMs,
    tags: [...policy.tags],
    layers,
    staleWhileRevalidate: policy.staleWhileRevalidate,
    staleIfError: policy.staleIfError,
    staleIfErrorRetry: policy.staleIfErrorRetry,
    softTimeout: finiteOrNull(policy.softTimeout),
    hardTimeout: finiteOrNull(policy.hardTimeout),
    earlyRefresh: policy.earlyRefresh,
    lock: policy.lock,
    lockLease: policy.lockLease,
    negativeTtl: policy.negativeTtl,
  }
}

/** Settles with `promise`'s value, or rejects with a timeout error after `ms` on the cache's scheduler. */
async function within<T>(rt: Runtime, promise: Promise<T>, ms: number, what: string): Promise<T> {
  const outcome = await race(rt.schedule, promise, Number.POSITIVE_INFINITY, ms)
  if (typeof outcome === 'object') return outcome.value
  promise.catch(() => {}) // it may still fail: nobody is waiting for it now
  throw new Error(`${what} did not answer within ${ms}ms`)
}

/** Reads `storeKey` from every layer without counting, backfilling or serving. */
export async function inspectKey(
  rt: Runtime,
  key: string,
  storeKey: string,
  withValue: boolean,
  timeoutMs: number,
): Promise<KeyReport> {
  const layers = await Promise.all(
    rt.layers.map(async (layer, i): Promise<LayerEntryReport> => {
      const name = rt.layerNames[i]!
      let entry: Entry | undefined
      try {
        entry = await within(rt, Promise.resolve(layer.get(storeKey)), timeoutMs, name)
      } catch (error) {
        return { layer: name, state: 'error', error: errorMessage(error) }
      }
      if (entry === undefined || !entryMatchesKey(entry, key, storeKey)) {
        return { layer: name, state: 'missing' }
      }
      if (rt.tags.check(entry, rt.clock.now()) === 'unknown') {
        try {
          await within(rt, Promise.resolve(rt.tags.load(entry.tags!)), timeoutMs, 'tag store')
        } catch {
          // judged below on what is known
        }
      }
      const now = rt.clock.now()
      const verdict = rt.tags.check(entry, now, true)
      const state =
        verdict === 'invalid'
          ? 'invalidated'
          : now >= entry.staleUntil
            ? 'expired'
            : now >= entry.freshUntil || verdict === 'stale'
              ? 'stale'
              : 'fresh'
      const report: LayerEntryReport = {
        layer: name,
        state,
        createdAt: entry.createdAt,
        ageMs: now - entry.createdAt,
        ttlLeftMs: finiteOrNull(entry.freshUntil - now),
        staleLeftMs: finiteOrNull(entry.staleUntil - now),
        tags: ownTags(entry),
        policy: entry.policy ?? 'default',
        ...(entry.size !== undefined && { sizeBytes: entry.size }),
        ...(entry.computeMs !== undefined && { computeMs: entry.computeMs }),
        ...(withValue && { value: entry.value }),
      }
      return report
    }),
  )
  return { key, layers }
}

/** Probes every layer (one read of a key never written) and the bus, each within `timeoutMs`. */
export async function checkHealth(
  rt: Runtime,
  bus: Bus | undefined,
  timeoutMs: number,
): Promise<HealthReport> {
  const layers = await Promise.all(
    rt.layers.map(async (layer, i): Promise<LayerHealthReport> => {
      const name = rt.layerNames[i]!
      const health = layer.health?.()
      const breaker = health?.state ?? 'none'
      if (breaker === 'open') {
        return {
          name,
          status: 'down',
          breaker,
          failures: health!.failures,
          dirtyKeys: health!.dirtyKeys,
          error: health!.lastError,
        }
      }
      const started = rt.clock.now()
      let error: string | undefined
      try {
        await within(rt, Promise.resolve(layer.get(PROBE_KEY)), timeoutMs, name)
      } catch (failure) {
        error = errorMessage(failure)
      }
      // The probe may have moved the breaker (closed a half-open circuit, counted a failure).
      const after = layer.health?.()
      return {
        name,
        status: error === undefined ? 'up' : 'down',
        latencyMs: rt.clock.now() - started,
        breaker: after?.state ?? 'none',
        ...(after && { failures: after.failures, dirtyKeys: after.dirtyKeys }),
        ...(error !== undefined && { error }),
      }
    }),
  )
  let busReport: BusHealthReport | undefined
  if (bus) {
    const started = rt.clock.now()
    try {
      const listeners = await within(rt, bus.listeners(), timeoutMs, 'bus')
      busReport = {
        status: bus.connected ? 'up' : 'down',
        connected: bus.connected,
        latencyMs: rt.clock.now() - started,
        listeners,
      }
    } catch (error) {
      busReport = {
        status: 'down',
        connected: bus.connected,
        latencyMs: rt.clock.now() - started,
        error: errorMessage(error),
      }
    }
  }
  const status =
    layers[0]!.status === 'down'
      ? 'down'
      : layers.every((l) => l.status === 'up') && busReport?.status !== 'down'
        ? 'up'
        : 'degraded'
  return busReport ? { status, layers, bus: busReport } : { status, layers }
}
