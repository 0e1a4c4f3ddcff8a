import { isPromise, type Layer } from '../layers/layer.js'
import { checkTags } from '../tags/tag-names.js'
import type { InvalidationMode } from '../tags/tag-store.js'
import type { Bus, BusMessage, ReceivedMessage } from './bus.js'
import type { CallOptions } from './call-options.js'
import {
  type Computation,
  computeAndStore,
  type Factory,
  NO_VERSIONS,
  stampedEntry,
  stampForWrite,
  type TagsOf,
  tagsBefore,
} from './compute.js'
import { computeLocked } from './distributed.js'
import { type Duration, parseDuration } from './durations.js'
import type { Entry } from './entry.js'
import { CacheError, describe, invalidOption } from './errors.js'
import type { CacheEventName, CacheListener, StaleReason } from './events.js'
import { randomId } from './ids.js'
import {
  type CacheResult,
  checkHealth,
  entryInfo,
  type HealthReport,
  inspectKey,
  type KeyReport,
  type PolicyInfo,
  policyInfo,
} from './inspect.js'
import { toStoreKey } from './keys.js'
import { earlyRefreshBeta, type ResolvedPolicy } from './policies.js'
import { race } from './race.js'
import { type Hit, isFreshFor, readMany, readThrough } from './read-path.js'
import type { Runtime } from './runtime.js'
import { type Flight, FlightTable } from './single-flight.js'
import type { CacheStats } from './stats.js'
import { checkObject } from './validate.js'
import { type WarmOptions, type WarmReport, type WarmSource, warm } from './warm.js'
import { Warmers } from './warmers.js'
import { clearThrough, deleteThrough, writeThrough } from './write-path.js'

export type { Factory, TagsOf } from './compute.js'

/** Options of `wrap`: a call's options, where `tags` may also be a function of the computed value. */
export interface WrapOptions<T> extends Omit<CallOptions, 'tags'> {
  /** Tags for the entry, or a function of the value returning them (recorded once it exists). */
  tags?: readonly string[] | TagsOf<T>
}

/** Options of the calls that remove data: `delete`, `deleteMany`, `clear`, and invalidations. */
export interface AcknowledgeOptions {
  /**
   * With a bus: resolve only once every other live instance applied the change (so no
   * instance serves the old value afterwards), or reject with `E_TIMEOUT` naming how many did
   * not answer within `timeout` (default '2s'). The change always applies here first.
   */
  acknowledge?: boolean | { timeout?: Duration }
}

/** Loads the values of the keys no layer had, in one call (see `wrapMany`). */
export type BatchLoader<T> = (
  missingKeys: string[],
) =>
  | Promise<ReadonlyMap<string, T> | Record<string, T> | readonly (T | undefined)[]>
  | ReadonlyMap<string, T>
  | Record<string, T>
  | readonly (T | undefined)[]

/** Options of `wrapMany`: a call's options, where `tags` may be a function of each value and its key. */
export interface WrapManyOptions<T> extends Omit<CallOptions, 'tags'> {
  tags?: readonly string[] | ((value: T, key: string) => readonly string[])
}

/** What a batch loader returned, as a map by key (an array answers the keys in order). */
function toLoadedMap<T>(
  loaded: ReadonlyMap<string, T> | Record<string, T> | readonly (T | undefined)[],
  keys: readonly string[],
): ReadonlyMap<string, T> {
  if (loaded instanceof Map) return loaded
  if (Array.isArray(loaded)) {
    const map = new Map<string, T>()
    keys.forEach((key, i) => {
      if (loaded[i] !== undefined) map.set(key, loaded[i] as T)
    })
    return map
  }
  if (typeof loaded === 'object' && loaded !== null) {
    return new Map(Object.entries(loaded as Record<string, T>))
  }
  throw invalidOption(
    'wrapMany loadMissing',
    `must return a Map, an object or an array of the values, got ${describe(loaded)}`,
  )
}

/** Options of `invalidateTags` and `invalidatePrefix`. */
export interface InvalidateOptions extends AcknowledgeOptions {
  /** `'expire'` (default): never served fresh again. `'stale'`: served stale while one refresh runs. */
  mode?: InvalidationMode
}

const noop = () => {}
/** How long an acknowledged call waits for the other instances by default. */
const DEFAULT_ACK_MS = 2_000
const ACK_KEYS: ReadonlySet<string> = new Set(['timeout'])

/** Keys remembered in back-off at most (the oldest is forgotten first). */
const MAX_BACKOFFS = 10_000

/** The error for `lock: 'distributed'` in a cache with no layer that keeps leases. */
export function noLeases(path: string): CacheError {
  return invalidOption(
    path,
    "is 'distributed', but no layer of this cache keeps leases (a redisLayer does)",
  )
}

/** The call a computation serves, for the paths named in its errors. */
type WrapOperation = 'wrap' | 'wrapResult'

/** What `cache.inspect` accepts. */
export interface InspectOptions {
  /** Include the value of each layer's entry. Default false: values are never shown unasked. */
  value?: boolean
  /** How long each layer may take to answer. Default '1s'. */
  timeout?: Duration
}

const INSPECT_KEYS: ReadonlySet<string> = new Set(['value', 'timeout'])
const HEALTH_KEYS: ReadonlySet<string> = new Set(['timeout'])
const DEFAULT_PROBE_MS = 1000

function probeTimeout(given: Duration | undefined, path: string): number {
  const ms = parseDuration(given ?? DEFAULT_PROBE_MS, path)
  if (ms <= 0) throw invalidOption(path, `must be above 0, got ${describe(given)}`)
  return ms
}

function result<T>(
  value: T,
  layer: number,
  entry: Entry | undefined,
  stale: boolean,
  rt: Runtime,
  now = rt.clock.now(),
): CacheResult<T> {
  return {
    value,
    status: layer < 0 ? 'miss' : stale ? 'stale' : 'hit',
    layer: layer < 0 ? undefined : rt.layerNames[layer],
    entry: entry && entryInfo(entry),
    ageMs: entry && Math.max(0, now - entry.createdAt),
  }
}

/** Records on `flight` what it served (see {@link Flight.servedLayer}). */
function served(
  flight: Flight<unknown>,
  layer: number,
  entry: Entry | undefined,
  stale: boolean,
): void {
  flight.servedLayer = layer
  flight.servedEntry = entry
  flight.servedStale = stale
}

/** Why a hit from `get`/`getMany` is stale, if it is. */
function staleReason(hit: Hit): StaleReason | undefined {
  return hit.state === 'stale' ? 'invalidated' : undefined
}

/** A settled promise for calls that finished synchronously. */
const DONE: Promise<void> = Promise.resolve()

/**
 * A multi-level cache. Create one with {@link createCache}; it orchestrates its layers and owns
 * all of its state (flights, counters, tag state, listeners): nothing is shared between instances.
 */
export class Cache {
  /** The namespace isolating this cache's keys in shared layers. */
  readonly namespace: string
  /** Named warmers: registered, run on demand or on a schedule, listed with their last report. */
  readonly warmers: Warmers
  readonly #rt: Runtime
  readonly #top: Layer
  readonly #maxKeyLength: number
  readonly #flights = new FlightTable<unknown>()
  readonly #reads = new FlightTable<Hit | undefined>()
  /**
   * Factory runs, one per key, apart from `#flights` (a flight may return a stale value while
   * the computation goes on in the background, and a refresh starts from inside a flight).
   */
  readonly #computations = new FlightTable<unknown>()
  /** Keys whose factory failed while a stale value was at hand: retried only after this time. */
  readonly #retryAt = new Map<string, number>()
  readonly #pending: Set<Promise<unknown>>
  #closed = false
  /** This instance's id on the bus. */
  readonly #sender: string
  readonly #bus: Bus | undefined
  readonly #busTrustMs: number
  /** Acknowledged calls waiting for answers: the instances that answered, by message id. */
  readonly #acks = new Map<string, { from: Set<string>; changed: () => void }>()
  /** Cancels the drop of local layers scheduled when the bus went down. */
  #cancelDistrust: (() => void) | undefined

  /** @internal Use {@link createCache}. */
  constructor(
    namespace: string,
    rt: Runtime,
    maxKeyLength: number,
    pending: Set<Promise<unknown>>,
    bus?: { bus: Bus; trustMs: number },
  ) {
    this.namespace = namespace
    this.#rt = rt
    this.#top = rt.layers[0]!
    this.#maxKeyLength = maxKeyLength
    this.#pending = pending
    this.#sender = randomId(rt.random)
    this.warmers = new Warmers(rt, (source, options) => this.warm(source, options))
    this.#bus = bus?.bus
    this.#busTrustMs = bus?.trustMs ?? 0
    if (bus) {
      // Until the bus reports it is connected, messages may be missed: trust local layers only so long.
      rt.localCap = this.#busTrustMs
      bus.bus.bind({
        namespace,
        sender: this.#sender,
        receive: (message) => this.#receive(message),
        down: () => this.#busDown(),
        up: () => this.#busUp(),
        report: (operation, error) => rt.layerError(-1, operation, undefined, error),
      })
    }
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
   * An entry whose tags were invalidated in `stale` mode is returned (and counted as stale).
   */
  async get<T = unknown>(key: string): Promise<T | undefined> {
    const storeKey = this.#storeKey(key, 'get')
    const rt = this.#rt
    const now = rt.clock.now()
    const top = this.#readTop(key, storeKey, now)
    if (this.#freshTop(key, storeKey, top, now)) return this.#hit(0, key, top) as T
    return this.#getSlow(key, storeKey, top)
  }

  /** Whether some layer holds a fresh value for `key` (without copying it upwards). */
  async has(key: string): Promise<boolean> {
    const storeKey = this.#storeKey(key, 'has')
    const hit = await readThrough(this.#rt, key, storeKey, { invalidated: true })
    return hit?.state === 'fresh'
  }

  /**
   * Like {@link Cache.get}, with where the value came from: the layer that served it, whether
   * it was stale, and its envelope (for `Age`, `ETag` and the like). `undefined` on a miss.
   */
  async getResult<T = unknown>(key: string): Promise<CacheResult<T> | undefined> {
    const storeKey = this.#storeKey(key, 'getResult')
    const rt = this.#rt
    const now = rt.clock.now()
    const top = this.#readTop(key, storeKey, now)
    if (this.#freshTop(key, storeKey, top, now)) {
      return result(this.#hit(0, key, top) as T, 0, top, false, rt, now)
    }
    const hit = await this.#readShared(key, storeKey, top)
    if (hit === undefined || hit.state === 'expired') return this.#miss(key)
    const value = this.#hit(hit.layer, key, hit.entry, staleReason(hit)) as T
    return result(value, hit.layer, hit.entry, hit.state === 'stale', rt)
  }

  /**
   * Like {@link Cache.wrap}, with where the value came from: `status` (`hit`, `stale` or
   * `miss`), the layer that served it, and its envelope (for `Age`, `ETag` and the like).
   * Callers that joined another call's computation see `miss` too.
   *
   * @example
   * const { value, status, layer, entry } = await cache.wrapResult('report', load, { policy: 'dashboard' })
   */
  async wrapResult<T>(
    key: string,
    factory: Factory<T>,
    options?: WrapOptions<T>,
  ): Promise<CacheResult<T>> {
    const storeKey = this.#storeKey(key, 'wrapResult')
    this.#checkWrap(factory, options, 'wrapResult')
    const rt = this.#rt
    const now = rt.clock.now()
    const top = this.#readTop(key, storeKey, now)
    if (this.#freshOnTop(key, storeKey, factory, options, top, now, 'wrapResult')) {
      return result(this.#hit(0, key, top) as T, 0, top, false, rt, now)
    }
    const flight = this.#wrapFlight(key, storeKey, factory, options, top, 'wrapResult')
    const value = (await flight.promise) as T
    return result(value, flight.servedLayer, flight.servedEntry, flight.servedStale, rt)
  }

  /**
   * The envelope of `key` in every layer, read without counting, copying or refreshing
   * anything: state (fresh, stale, expired, invalidated, missing, error), age, freshness left,
   * tags. The value is included only with `{ value: true }`. Each layer answers within
   * `timeout` (default 1s).
   */
  async inspect(key: string, options: InspectOptions = {}): Promise<KeyReport> {
    const storeKey = this.#storeKey(key, 'inspect')
    checkObject(options, 'inspect options', INSPECT_KEYS)
    if (options.value !== undefined && typeof options.value !== 'boolean') {
      throw invalidOption(
        'inspect options.value',
        `must be true or false, got ${describe(options.value)}`,
      )
    }
    const timeout = probeTimeout(options.timeout, 'inspect options.timeout')
    return inspectKey(this.#rt, key, storeKey, options.value === true, timeout)
  }

  /**
   * Probes each layer (one read of a key never written, skipped while its circuit is open) and
   * the bus, each within `timeout` (default 1s), and reports their state, breaker and latency.
   * Never throws for a layer that is down: that is what it reports.
   */
  async health(options: { timeout?: Duration } = {}): Promise<HealthReport> {
    this.#checkOpen('health')
    checkObject(options, 'health options', HEALTH_KEYS)
    const timeout = probeTimeout(options.timeout, 'health options.timeout')
    return checkHealth(this.#rt, this.#bus, timeout)
  }

  /** The policy called `name` (default: `default`) with durations in ms, or `undefined`. */
  policy(name = 'default'): PolicyInfo | undefined {
    const policy = this.#rt.policies.get(name)
    return policy && policyInfo(policy, this.#rt.layerNames)
  }

  /**
   * The value for `key` from the cache, or from `factory` on a miss, which is then written to
   * every layer. Concurrent misses of one key in this process run `factory` once and share its
   * value or its error; a rejected factory is not cached, nor is `undefined`. A factory that
   * was running when one of the entry's tags was invalidated has its value returned, not stored.
   *
   * @example
   * const user = await cache.wrap(`user:${id}`, () => db.users.find(id), { policy: 'users', tags: [`user:${id}`] })
   */
  async wrap<T>(key: string, factory: Factory<T>, options?: WrapOptions<T>): Promise<T> {
    const storeKey = this.#storeKey(key, 'wrap')
    this.#checkWrap(factory, options, 'wrap')
    const rt = this.#rt
    const now = rt.clock.now()
    const top = this.#readTop(key, storeKey, now)
    if (this.#freshOnTop(key, storeKey, factory, options, top, now, 'wrap')) {
      return this.#hit(0, key, top) as T
    }
    return this.#wrapFlight(key, storeKey, factory, options, top, 'wrap').promise as Promise<T>
  }

  /**
   * The hit path of `wrap` and `wrapResult`: whether the top layer answered a fresh value
   * (counted as a hit, and maybe refreshed early) at once.
   */
  #freshOnTop<T>(
    key: string,
    storeKey: string,
    factory: Factory<T>,
    options: WrapOptions<T> | undefined,
    top: Entry | undefined | Promise<Entry | undefined>,
    now: number,
    operation: WrapOperation,
  ): top is Entry {
    if (!this.#freshTop(key, storeKey, top, now)) return false
    const rt = this.#rt
    if (rt.earlyRefresh || options?.earlyRefresh)
      this.#early(key, storeKey, factory, options, top, now, operation)
    return true
  }

  /** The flight of a `wrap` miss: joined, or started. It records what it served. */
  #wrapFlight<T>(
    key: string,
    storeKey: string,
    factory: Factory<T>,
    options: WrapOptions<T> | undefined,
    top: Entry | undefined | Promise<Entry | undefined>,
    operation: WrapOperation,
  ): Flight<unknown> {
    const rt = this.#rt
    let job: Computation<T>
    try {
      job = this.#job(key, storeKey, factory, options, operation)
    } catch (error) {
      if (isPromise(top)) top.catch(noop) // nobody awaits it now
      throw error
    }
    // A joined flight never awaits `top`; a new one does (and handles its failure).
    if (isPromise(top) && this.#flights.get(storeKey)) top.catch(noop)
    return this.#flights.start(storeKey, async (flight) => {
      // A layer that failed to answer this read is written in the background, so an outage
      // costs a cold call one timeout, not two.
      const failed = new Set<number>()
      const hit = await readThrough(rt, key, storeKey, flight, { answer: top }, failed)
      if (hit?.state === 'fresh') {
        if (rt.earlyRefresh || options?.earlyRefresh) {
          this.#early(key, storeKey, factory, options, hit.entry, rt.clock.now(), operation)
        }
        served(flight, hit.layer, hit.entry, false)
        return this.#hit(hit.layer, key, hit.entry)
      }
      return this.#withoutFresh(job, hit, failed, flight)
    })
  }

  /**
   * A `wrap` that found no fresh value. With a value it may serve stale (invalidated in `stale`
   * mode, or within `staleWhileRevalidate`): serve it and refresh in the background. Otherwise
   * wait for the factory, falling back to a value within `staleIfError` when the factory fails,
   * is slower than `softTimeout` or `hardTimeout`, or failed less than `staleIfErrorRetry` ago.
   */
  async #withoutFresh<T>(
    job: Computation<T>,
    hit: Hit | undefined,
    failed: Set<number>,
    origin: Flight<unknown>,
  ): Promise<unknown> {
    const rt = this.#rt
    const { key, storeKey, policy } = job
    let fallback: Hit | undefined
    if (hit) {
      job.stale = hit.entry
      const now = rt.clock.now()
      const invalidated = hit.state === 'stale'
      const revalidating = invalidated || now < hit.entry.freshUntil + policy.staleWhileRevalidate
      const failSafe = invalidated || now < hit.entry.freshUntil + policy.staleIfError
      if ((revalidating || failSafe) && this.#backingOff(storeKey, now)) {
        served(origin, hit.layer, hit.entry, true)
        return this.#hit(hit.layer, key, hit.entry, 'error')
      }
      if (revalidating) {
        served(origin, hit.layer, hit.entry, true)
        const value = this.#hit(
          hit.layer,
          key,
          hit.entry,
          invalidated ? 'invalidated' : 'revalidating',
        )
        this.#refresh(job)
        return value
      }
      if (failSafe) fallback = hit
    }
    this.#miss(key)
    const computation = this.#computation(job, failed, origin)
    const soft = fallback ? policy.softTimeout : Number.POSITIVE_INFINITY
    const hard = policy.hardTimeout
    let outcome: { value: unknown } | 'soft' | 'hard'
    try {
      if (soft === Number.POSITIVE_INFINITY && hard === Number.POSITIVE_INFINITY) {
        const value = await computation.promise
        served(origin, -1, computation.servedEntry, false)
        return value
      }
      const elapsed = rt.clock.now() - computation.startedAt
      outcome = await race(rt.schedule, computation.promise, soft - elapsed, hard - elapsed)
    } catch (error) {
      if (!fallback) throw error
      rt.layerError(-1, 'factory', key, error)
      return this.#fellBack(origin, fallback, key, 'error')
    }
    if (typeof outcome === 'object') {
      served(origin, -1, computation.servedEntry, false)
      return outcome.value
    }
    // Timed out: the factory finishes in the background and updates the cache then.
    rt.stats.timeouts++
    computation.promise.catch((error: unknown) => rt.layerError(-1, 'factory', key, error))
    if (fallback) {
      if (outcome === 'hard') this.#backOff(storeKey, policy)
      return this.#fellBack(origin, fallback, key, 'timeout')
    }
    throw new CacheError(
      'E_TIMEOUT',
      `layercache: the factory for key "${key}" did not answer within ${policy.hardTimeout}ms (hardTimeout); it goes on in the background`,
    )
  }

  /**
   * The computation of `job`'s key: the one running (in the foreground or as a background
   * refresh), or a new one. One per key at a time in this process; with `lock: 'distributed'`,
   * one across processes. A failure with a stale value at hand starts a back-off.
   */
  #computation<T>(
    job: Computation<T>,
    failed: Set<number>,
    origin?: Flight<unknown>,
  ): Flight<unknown> {
    const running = this.#computations.get(job.storeKey)
    if (running) return running
    const rt = this.#rt
    const promise = this.#computations.run(job.storeKey, async (flight) => {
      flight.startedAt = rt.clock.now()
      try {
        const { value, stored, entry } =
          job.policy.lock === 'distributed' && rt.locks
            ? await computeLocked(rt, rt.locks, job, flight, failed)
            : await computeAndStore(rt, job, flight, failed)
        flight.servedEntry = entry
        this.#retryAt.delete(job.storeKey)
        if (stored) this.#wrote(job.key)
        return value
      } catch (error) {
        rt.stats.factoryErrors++
        if (job.stale) this.#backOff(job.storeKey, job.policy)
        throw error
      }
    })
    promise.catch(noop) // whoever waits for it handles its error; a refresh reports it
    const flight = this.#computations.get(job.storeKey)!
    // The flight that asked for it read the layers before a mutation of the key landed: what
    // it computes must not be stored (no stale set), and later callers must not join it.
    if (origin?.invalidated) this.#computations.invalidate(job.storeKey)
    return flight
  }

  /** Starts a background refresh of `job`'s key, unless one is running. */
  #refresh<T>(job: Computation<T>, reason: 'stale' | 'early' = 'stale'): void {
    if (this.#computations.get(job.storeKey)) return
    const rt = this.#rt
    rt.stats.refreshes++
    if (rt.events.has('refresh')) rt.events.emit('refresh', { key: job.key, reason })
    const { promise } = this.#computation(job, new Set())
    rt.background(promise.catch((error: unknown) => rt.layerError(-1, 'refresh', job.key, error)))
  }

  /**
   * Early refresh (XFetch, Vattani et al., VLDB 2015): a hit refreshes in the background when
   * `now - computeMs * beta * ln(random())` reaches the entry's expiry, so the chance grows as
   * expiry nears, sooner for values that take long to compute. Beta comes from the call's
   * `earlyRefresh`, else from the policy the entry was written under.
   */
  #early<T>(
    key: string,
    storeKey: string,
    factory: Factory<T>,
    options: WrapOptions<T> | undefined,
    entry: Entry,
    now: number,
    operation: WrapOperation = 'wrap',
  ): void {
    const rt = this.#rt
    const computeMs = entry.computeMs
    if (computeMs === undefined || entry.freshUntil === Number.POSITIVE_INFINITY) return
    const given = options?.earlyRefresh
    const beta =
      given === undefined
        ? (rt.policies.get(entry.policy ?? 'default') ?? rt.policies.default).earlyRefresh
        : (earlyRefreshBeta(given) ?? 0)
    if (beta === 0) return
    const reach = computeMs * beta
    // -ln(random()) above 40 has a chance of e^-40: skip the draw while expiry is that far.
    if (entry.freshUntil - now > reach * 40) return
    if (now - reach * Math.log(rt.random()) < entry.freshUntil) return
    if (this.#computations.get(storeKey) || this.#backingOff(storeKey, now)) return
    let job: Computation<T>
    try {
      job = this.#job(key, storeKey, factory, options, operation)
    } catch {
      return // options a miss would refuse: a hit still answers, whatever the draw
    }
    job.stale = entry
    this.#refresh(job, 'early')
  }

  /** Whether the factory of `storeKey` failed less than its retry interval ago. */
  #backingOff(storeKey: string, now: number): boolean {
    if (this.#retryAt.size === 0) return false
    const until = this.#retryAt.get(storeKey)
    if (until === undefined) return false
    if (now < until) return true
    this.#retryAt.delete(storeKey)
    return false
  }

  #backOff(storeKey: string, policy: ResolvedPolicy): void {
    if (this.#retryAt.size >= MAX_BACKOFFS && !this.#retryAt.has(storeKey)) {
      this.#retryAt.delete(this.#retryAt.keys().next().value!) // the oldest
    }
    this.#retryAt.delete(storeKey) // re-inserted last: the map stays in back-off order
    this.#retryAt.set(storeKey, this.#rt.clock.now() + policy.staleIfErrorRetry)
  }

  /** Serves `fallback` after a foreground wait (the miss is already counted). */
  #fellBack(flight: Flight<unknown>, fallback: Hit, key: string, reason: StaleReason): unknown {
    served(flight, fallback.layer, fallback.entry, true)
    this.#servedStale(fallback.layer, key, reason)
    return fallback.entry.value
  }

  /** Counts and announces a value served stale. */
  #servedStale(layer: number, key: string, reason: StaleReason): void {
    const { stats, events } = this.#rt
    stats.stale++
    if (events.has('stale'))
      events.emit('stale', { key, layer: this.#rt.layerNames[layer]!, reason })
  }

  /** Writes `value` to every layer under `key`, each with its own TTL from the policy. */
  set<T>(key: string, value: T, options?: CallOptions): Promise<void> {
    // Not an async function: an untagged set (the usual one) makes no promise of its own
    // beyond its layers' (see docs/benchmarks.md, Redis set throughput).
    try {
      const storeKey = this.#storeKey(key, 'set')
      const rt = this.#rt
      const policy = rt.policies.resolve(options, 'set options')
      const tags = tagsBefore(rt, key, policy)
      if (tags.length > 0) return this.#setTagged(key, storeKey, value, policy, tags)
      // One clock read per set: stamping and every layer's TTL use it (a clock read is not free).
      const now = rt.clock.now()
      const { entry, jitter } = stampedEntry(
        rt,
        value,
        policy,
        key,
        storeKey,
        now,
        tags,
        NO_VERSIONS,
        now,
      )
      return this.#writeSet(key, storeKey, entry, policy, jitter, now)
    } catch (error) {
      return Promise.reject(error)
    }
  }

  async #setTagged(
    key: string,
    storeKey: string,
    value: unknown,
    policy: ResolvedPolicy,
    tags: readonly string[],
  ): Promise<void> {
    const rt = this.#rt
    const versions = await rt.tags.capture(tags)
    const stamped = rt.clock.now()
    const { entry, jitter, now } = await stampForWrite(
      rt,
      value,
      policy,
      key,
      storeKey,
      stamped,
      tags,
      versions,
      policy.ttl,
      stamped,
    )
    await this.#writeSet(key, storeKey, entry, policy, jitter, now)
  }

  /**
   * Writes a set's entry through the layers. In-flight reads of the key are invalidated before
   * and after the write (see #mutate), and the other instances are told, even when a layer
   * failed (they must not keep the old value either).
   */
  #writeSet(
    key: string,
    storeKey: string,
    entry: Entry,
    policy: ResolvedPolicy,
    jitter: number,
    now: number,
  ): Promise<void> {
    this.#invalidateKey(storeKey)
    let written: boolean | Promise<boolean>
    try {
      written = writeThrough(this.#rt, key, storeKey, entry, policy, jitter, now)
    } catch (error) {
      this.#setDone(storeKey)
      return Promise.reject(error)
    }
    if (!isPromise(written)) {
      this.#setDone(storeKey)
      this.#wrote(key)
      return DONE
    }
    return written.then(
      () => {
        this.#setDone(storeKey)
        this.#wrote(key)
      },
      (error: unknown) => {
        this.#setDone(storeKey)
        throw error
      },
    )
  }

  #setDone(storeKey: string): void {
    this.#invalidateKey(storeKey)
    this.#bus?.publish({ kind: 'keys', keys: [storeKey] })
  }

  /** Removes `key` from every layer. Reads started after this resolves never see the old value. */
  async delete(key: string, options?: AcknowledgeOptions): Promise<void> {
    await this.deleteMany([key], options)
  }

  /** Removes several keys from every layer, with one batch call per layer where it has one. */
  async deleteMany(keys: readonly string[], options?: AcknowledgeOptions): Promise<void> {
    const storeKeys = this.#storeKeys(keys, 'deleteMany')
    const ackMs = this.#ackTimeout(options, 'deleteMany')
    await this.#mutate(
      storeKeys,
      () => deleteThrough(this.#rt, keys, storeKeys),
      () => {
        if (storeKeys.length > 0) this.#bus?.publish({ kind: 'keys', keys: storeKeys })
      },
    )
    const { stats, events } = this.#rt
    stats.deletes += keys.length
    if (events.has('delete')) for (const key of keys) events.emit('delete', { key })
    if (this.#bus && storeKeys.length > 0)
      await this.#announce({ kind: 'keys', keys: storeKeys }, ackMs, 'deleteMany')
  }

  /** Values for `keys` in their order (`undefined` for misses), one batch read per layer. */
  async getMany<T = unknown>(keys: readonly string[]): Promise<(T | undefined)[]> {
    const storeKeys = this.#storeKeys(keys, 'getMany')
    const hits = await readMany(this.#rt, keys, storeKeys)
    return hits.map(
      (hit, i) =>
        (hit
          ? this.#hit(hit.layer, keys[i]!, hit.entry, staleReason(hit))
          : this.#miss(keys[i]!)) as T | undefined,
    )
  }

  /**
   * Pre-populates keys (before peak hours, on start-up): at most `concurrency` at a time, each
   * skipped while still fresh, else computed through `wrap`, retried with exponential backoff
   * when its factory fails; one failure never stops the others. Emits `warm` events, and
   * resolves to a report (succeeded, failed with their errors, skipped, cancelled, duration).
   *
   * @example
   * const report = await cache.warm(activeUsers.map((id) => ({
   *   key: `dashboard:${id}`, factory: () => buildDashboard(id), policy: 'dashboard',
   * })), { concurrency: 8 })
   */
  async warm(source: WarmSource, options?: WarmOptions): Promise<WarmReport> {
    this.#checkOpen('warm')
    return warm(this, this.#rt, source, options)
  }

  /**
   * Values for `keys` in their order, loading the ones no layer holds with one call of
   * `loadMissing(missingKeys)` (DataLoader style): the layers are read with one batch call
   * each, the loader gets only the keys they lacked (and that no running `wrap` or `wrapMany`
   * is already computing: those are joined), and what it returns is written to every layer.
   * A key the loader does not return is `undefined`, cached only with the policy's
   * `negativeTtl`. Tags are a list, or a function of each value and its key.
   *
   * @example
   * const users = await cache.wrapMany(ids.map((id) => `user:${id}`), async (missing) =>
   *   new Map((await db.users.findMany(missing.map(idOf))).map((u) => [`user:${u.id}`, u])))
   */
  async wrapMany<T>(
    keys: readonly string[],
    loadMissing: BatchLoader<T>,
    options?: WrapManyOptions<T>,
  ): Promise<(T | undefined)[]> {
    const storeKeys = this.#storeKeys(keys, 'wrapMany')
    if (typeof loadMissing !== 'function') {
      throw invalidOption(
        'wrapMany loadMissing',
        `must be a function of the missing keys, got ${describe(loadMissing)}`,
      )
    }
    const rt = this.#rt
    const tagsOf = options?.tags
    const { tags: _tags, ...rest } = options ?? {}
    const policy = rt.policies.resolve(
      typeof tagsOf === 'function' ? rest : (options as CallOptions | undefined),
      'wrapMany options',
    )
    const hits = await readMany(rt, keys, storeKeys)
    const out: (T | undefined)[] = new Array(keys.length)
    const waits: Promise<void>[] = []
    const missing: number[] = []
    const firstOf = new Map<string, number>() // a key asked twice is loaded once
    hits.forEach((hit, i) => {
      // A value invalidated in `stale` mode is loaded again with the batch (the loader is the
      // refresh; a batch has no background refresh of its own).
      if (hit?.state === 'fresh') {
        out[i] = this.#hit(hit.layer, keys[i]!, hit.entry) as T
        return
      }
      const storeKey = storeKeys[i]!
      const running = this.#flights.get(storeKey)
      if (running) {
        // Another wrap or wrapMany computes this key: share its value.
        waits.push(
          running.promise.then((value) => {
            out[i] = value as T
          }),
        )
        return
      }
      if (!firstOf.has(storeKey)) {
        firstOf.set(storeKey, i)
        missing.push(i)
      }
    })
    if (missing.length > 0)
      waits.push(this.#loadMany(keys, storeKeys, missing, loadMissing, policy, options?.tags, out))
    await Promise.all(waits)
    // Repeats of a key loaded here take its value.
    keys.forEach((_, i) => {
      const first = firstOf.get(storeKeys[i]!)
      if (first !== undefined && first !== i) out[i] = out[first]
    })
    return out
  }

  /**
   * Loads the `missing` indexes with one loader call, through one flight per key (so that
   * `wrap` and `wrapMany` calls arriving meanwhile join them), and writes what it returned.
   * Tag versions are recorded before the load, and nothing is stored if one moved meanwhile.
   */
  async #loadMany<T>(
    keys: readonly string[],
    storeKeys: readonly string[],
    missing: readonly number[],
    loadMissing: BatchLoader<T>,
    policy: ResolvedPolicy,
    tagsOption: WrapManyOptions<T>['tags'],
    out: (T | undefined)[],
  ): Promise<void> {
    const rt = this.#rt
    let release!: (loaded: ReadonlyMap<string, T>) => void
    let fail!: (error: unknown) => void
    const batch = new Promise<ReadonlyMap<string, T>>((resolve, reject) => {
      release = resolve
      fail = reject
    })
    batch.catch(noop)
    // The flights stay open until the values are written: a delete meanwhile invalidates them.
    let written!: () => void
    const writes = new Promise<void>((resolve) => {
      written = resolve
    })
    const flights = missing.map((i) => {
      const key = keys[i]!
      let flight!: Flight<unknown>
      const promise = this.#flights.run(storeKeys[i]!, async (f) => {
        flight = f
        const loaded = await batch
        await writes
        return loaded.get(key)
      })
      promise.catch(noop) // the loader's error reaches the caller below
      return { i, key, storeKey: storeKeys[i]!, promise, flight }
    })
    for (const i of missing) this.#miss(keys[i]!)
    const listed = typeof tagsOption === 'function' ? [] : (tagsOption ?? [])
    const tagsBeforeLoad = flights.map(({ key }) => [
      ...new Set([...tagsBefore(rt, key, policy), ...listed]),
    ])
    const allTags = [...new Set(tagsBeforeLoad.flat())]
    try {
      const recorded = allTags.length > 0 ? await rt.tags.capture(allTags) : NO_VERSIONS
      const startedAt = rt.clock.now()
      rt.stats.factoryRuns++
      const missingKeys = flights.map(({ key }) => key)
      const loaded = toLoadedMap(await loadMissing(missingKeys), missingKeys)
      release(loaded)
      for (const { i, key } of flights) out[i] = loaded.get(key)
      // A tag that moved while the loader ran: return its answers, store none (no stale set).
      if (allTags.length > 0 && !(await rt.tags.unchangedSince(allTags, recorded))) return
      const versionOf = new Map(
        allTags.map((tag, t) => [tag, [recorded[2 * t]!, recorded[2 * t + 1]!]]),
      )
      await Promise.all(
        flights.map(async ({ key, storeKey, flight }, n) => {
          const value = loaded.get(key)
          const ttl = value === undefined ? policy.negativeTtl : policy.ttl
          if (ttl <= 0) return
          const before = tagsBeforeLoad[n]!
          const extra =
            typeof tagsOption === 'function' && value !== undefined
              ? checkTags(tagsOption(value, key), 'wrapMany options.tags(value, key)').filter(
                  (tag) => !before.includes(tag),
                )
              : []
          const versions = before.flatMap((tag) => versionOf.get(tag)!)
          if (extra.length > 0) versions.push(...(await rt.tags.capture(extra)))
          await this.#storeLoaded(
            key,
            storeKey,
            value,
            policy,
            ttl,
            [...before, ...extra],
            versions,
            startedAt,
            flight,
          )
        }),
      )
    } catch (error) {
      fail(error)
      throw error
    } finally {
      written()
    }
  }

  /** Writes a value a batch loader returned, unless a mutation of its key overlapped the load. */
  async #storeLoaded(
    key: string,
    storeKey: string,
    value: unknown,
    policy: ResolvedPolicy,
    ttl: number,
    tags: readonly string[],
    versions: readonly number[],
    startedAt: number,
    flight: Flight<unknown>,
  ): Promise<void> {
    const rt = this.#rt
    if (flight.invalidated) return
    const { entry, jitter, now } = await stampForWrite(
      rt,
      value,
      policy,
      key,
      storeKey,
      startedAt,
      tags,
      versions,
      ttl,
    )
    try {
      const stored = await writeThrough(rt, key, storeKey, entry, policy, jitter, now, flight)
      if (stored) this.#wrote(key)
    } catch (error) {
      rt.layerError(-1, 'wrapMany', key, error)
    }
  }

  /**
   * Invalidates every entry carrying any of `tags`, in every policy and layer, at a cost that
   * does not depend on how many entries carry them (one counter per tag moves). Once this
   * resolves, reads on this instance never return a value computed before it.
   *
   * @example
   * await db.users.update(42, patch)
   * await cache.invalidateTags(['user:42'])
   */
  async invalidateTags(tags: readonly string[], options: InvalidateOptions = {}): Promise<void> {
    this.#checkOpen('invalidateTags')
    await this.#invalidate(checkTags(tags, 'invalidateTags tags'), options, 'invalidateTags')
  }

  /**
   * Invalidates every key under a key prefix: `invalidatePrefix('analytics:student:456')`
   * reaches `analytics:student:456:*`. Same O(1) cost as a tag: no scan, no key list.
   */
  async invalidatePrefix(prefix: string, options: InvalidateOptions = {}): Promise<void> {
    this.#checkOpen('invalidatePrefix')
    await this.#invalidate([this.#rt.prefixes.tagFor(prefix)], options, 'invalidatePrefix')
  }

  /** Removes every entry of this cache's namespace from every layer. */
  async clear(options?: AcknowledgeOptions): Promise<void> {
    this.#checkOpen('clear')
    const ackMs = this.#ackTimeout(options, 'clear')
    await this.#mutate(
      undefined,
      () => clearThrough(this.#rt),
      () => {
        this.#bus?.publish({ kind: 'clear' })
      },
    )
    if (this.#rt.events.has('clear')) this.#rt.events.emit('clear', {})
    if (this.#bus) await this.#announce({ kind: 'clear' }, ackMs, 'clear')
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
    this.warmers.close()
    this.#closed = true
    await Promise.allSettled([
      this.#flights.drain(),
      this.#reads.drain(),
      this.#computations.drain(),
      ...this.#pending,
    ])
    for (let i = 0; i < this.#rt.layers.length; i++) {
      try {
        await this.#rt.layers[i]!.close?.()
      } catch (error) {
        this.#rt.layerError(i, 'close', undefined, error)
      }
    }
    this.#cancelDistrust?.()
    try {
      await this.#bus?.close()
    } catch (error) {
      this.#rt.layerError(-1, 'bus', undefined, error)
    }
    this.#rt.events.removeAll()
  }

  /** The acknowledgement timeout a call asked for, checked before it changes anything. */
  #ackTimeout(options: AcknowledgeOptions | undefined, operation: string): number | undefined {
    if (options === undefined) return undefined
    if (typeof options !== 'object' || options === null)
      throw invalidOption(`${operation} options`, `must be an object, got ${describe(options)}`)
    const ack = options.acknowledge
    if (ack === undefined || ack === false) return undefined
    if (ack === true) return DEFAULT_ACK_MS
    if (typeof ack !== 'object' || ack === null) {
      throw invalidOption(
        `${operation} options.acknowledge`,
        `must be true, false or { timeout }, got ${describe(ack)}`,
      )
    }
    checkObject(ack, `${operation} options.acknowledge`, ACK_KEYS)
    return parseDuration(ack.timeout ?? DEFAULT_ACK_MS, `${operation} options.acknowledge.timeout`)
  }

  /**
   * Tells the other instances (without a bus, there are none to tell). With `ackMs`, waits
   * until every other instance listening now applied the change, for at most `ackMs`.
   */
  async #announce(message: BusMessage, ackMs: number | undefined, operation: string) {
    const bus = this.#bus
    if (!bus) return
    if (ackMs === undefined) {
      bus.publish(message)
      return
    }
    if (!bus.connected) {
      // Answers could not reach this instance, and who listens cannot be counted: the message
      // is queued like any other (sent once the bus is back), and the call says so.
      bus.publish(message)
      throw new CacheError(
        'E_LAYER',
        `layercache: ${operation} applied here, but the bus is down: it cannot be acknowledged (the message is queued until the bus is back)`,
      )
    }
    const id = randomId(this.#rt.random)
    const from = new Set<string>()
    let changed = () => {}
    this.#acks.set(id, { from, changed: () => changed() })
    try {
      let others: number
      try {
        const [listening] = await Promise.all([
          bus.listeners(),
          bus.publishNow({ ...message, id } as BusMessage),
        ])
        others = listening - 1
      } catch (error) {
        throw new CacheError(
          'E_LAYER',
          `layercache: ${operation} applied here, but could not be sent to the other instances`,
          { cause: error },
        )
      }
      if (from.size >= others) return
      const answered = await new Promise<boolean>((resolve) => {
        const cancel = this.#rt.schedule(() => resolve(false), ackMs)
        changed = () => {
          if (from.size < others) return
          cancel()
          resolve(true)
        }
      })
      if (!answered) {
        const missing = others - from.size
        throw new CacheError(
          'E_TIMEOUT',
          `layercache: ${operation} applied here, but ${missing} of ${others} other instances did not acknowledge it within ${ackMs}ms`,
        )
      }
    } finally {
      this.#acks.delete(id)
    }
  }

  /** A message from another instance: drop what it changed from the local layers. */
  #receive(message: ReceivedMessage): void {
    if (message.sender === this.#sender || this.#closed) return
    const rt = this.#rt
    switch (message.kind) {
      case 'ack': {
        if (message.to !== this.#sender) return
        const waiting = this.#acks.get(message.id)
        if (!waiting) return
        waiting.from.add(message.sender)
        waiting.changed()
        return
      }
      case 'keys':
        for (const storeKey of message.keys) this.#invalidateKey(storeKey)
        this.#forLocalLayers('delete', (layer) =>
          layer.deleteMany
            ? layer.deleteMany(message.keys)
            : Promise.all(message.keys.map((key) => layer.delete(key))),
        )
        break
      case 'tags':
        if (!rt.tags.shared) {
          // Tag state per instance: move it here too, and answer once it moved.
          const moved = rt.tags.bump(message.tags, message.mode).then(
            () => this.#answer(message),
            (error: unknown) => rt.layerError(-1, 'tags', undefined, error),
          )
          rt.background(moved)
          return
        }
        rt.tags.apply(message.tags, message.versions)
        break
      case 'clear':
        this.#dropLocal()
        break
    }
    this.#answer(message)
  }

  /** Acknowledges a message that asked for it, once applied. */
  #answer(message: ReceivedMessage): void {
    if (message.kind !== 'ack' && message.id !== undefined)
      this.#bus?.publish({ kind: 'ack', id: message.id, to: message.sender })
  }

  /** The bus lost its connection: local layers are trusted `busTrust` longer, then dropped. */
  #busDown(): void {
    if (this.#cancelDistrust || this.#closed) return
    const rt = this.#rt
    rt.localCap = this.#busTrustMs
    this.#cancelDistrust = rt.schedule(() => this.#dropLocal(), this.#busTrustMs)
  }

  /** The bus is connected (again): what was missed is unknown, so drop local state. */
  #busUp(): void {
    if (this.#closed) return
    this.#cancelDistrust?.()
    this.#cancelDistrust = undefined
    this.#rt.localCap = Number.POSITIVE_INFINITY
    this.#dropLocal()
  }

  /** Empties the local layers and forgets tag versions (an epoch bump): all is read again. */
  #dropLocal(): void {
    this.#invalidateFlights(undefined)
    this.#rt.tags.forget()
    this.#forLocalLayers('clear', (layer) => layer.clear())
  }

  #forLocalLayers(operation: string, run: (layer: Layer) => unknown): void {
    const rt = this.#rt
    rt.layers.forEach((layer, i) => {
      if (!rt.local[i]) return
      try {
        const result = run(layer)
        if (isPromise(result))
          rt.background(
            result.catch((error: unknown) => rt.layerError(i, operation, undefined, error)),
          )
      } catch (error) {
        rt.layerError(i, operation, undefined, error)
      }
    })
  }

  /**
   * Whether the top layer answered a fresh value at once (counted as a hit there): the hit
   * path of every read.
   */
  #freshTop(
    key: string,
    storeKey: string,
    top: Entry | undefined | Promise<Entry | undefined>,
    now: number,
  ): top is Entry {
    if (isPromise(top) || !isFreshFor(top, key, storeKey, now) || !this.#rt.tags.trusts(top, now))
      return false
    this.#rt.stats.layers[0]!.hits++
    return true
  }

  /** Reads `storeKey` through the layers, sharing one read between concurrent callers. */
  #readShared(
    key: string,
    storeKey: string,
    top: Entry | undefined | Promise<Entry | undefined>,
  ): Promise<Hit | undefined> {
    // A joined read never awaits `top`; a new one does (and handles its failure).
    if (isPromise(top) && this.#reads.get(storeKey)) top.catch(noop)
    return this.#reads.run(storeKey, (flight) =>
      readThrough(this.#rt, key, storeKey, flight, { answer: top }),
    )
  }

  #getSlow<T>(
    key: string,
    storeKey: string,
    top: Entry | undefined | Promise<Entry | undefined>,
  ): Promise<T | undefined> {
    return this.#readShared(key, storeKey, top).then((hit) => {
      // Only `wrap` serves an expired value (it can refresh it); `get` sees a miss.
      if (hit === undefined || hit.state === 'expired') return this.#miss(key) as undefined
      return this.#hit(hit.layer, key, hit.entry, staleReason(hit)) as T
    })
  }

  #job<T>(
    key: string,
    storeKey: string,
    factory: Factory<T>,
    options: WrapOptions<T> | undefined,
    operation: WrapOperation,
  ): Computation<T> {
    const tags = options?.tags
    const rt = this.#rt
    const path = `${operation} options`
    let job: Computation<T>
    if (typeof tags !== 'function') {
      const policy = rt.policies.resolve(options as CallOptions | undefined, path)
      job = { key, storeKey, factory, policy, path }
    } else {
      const { tags: _, ...rest } = options!
      job = {
        key,
        storeKey,
        factory,
        policy: rt.policies.resolve(rest, path),
        tagsOf: tags,
        path,
      }
    }
    if (job.policy.lock === 'distributed' && !rt.locks) throw noLeases(`${path}.lock`)
    return job
  }

  async #invalidate(
    tags: readonly string[],
    options: InvalidateOptions,
    operation: string,
  ): Promise<void> {
    const mode = options.mode ?? 'expire'
    if (mode !== 'expire' && mode !== 'stale') {
      throw invalidOption(
        `${operation} options.mode`,
        `must be 'expire' or 'stale', got ${describe(mode)}`,
      )
    }
    const ackMs = this.#ackTimeout(options, operation)
    if (tags.length === 0) return
    let versions: number[]
    try {
      versions = await this.#rt.tags.bump(tags, mode)
    } catch (error) {
      throw new CacheError(
        'E_LAYER',
        `layercache: ${operation} could not move its tags in the tag store`,
        { cause: error },
      )
    }
    this.#rt.stats.invalidations += tags.length
    if (this.#rt.events.has('invalidate')) this.#rt.events.emit('invalidate', { tags, mode })
    if (!this.#bus) return // no other instance to tell: no message, no promise
    // With tag state per instance, each receiver moves the tags itself (versions differ).
    const shared = this.#rt.tags.shared
    await this.#announce(
      { kind: 'tags', tags, versions: shared ? versions : [], mode },
      ackMs,
      operation,
    )
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
    onFailure?: () => void,
  ): Promise<void> {
    this.#invalidateFlights(storeKeys)
    try {
      await operation()
    } catch (error) {
      onFailure?.() // a layer failed: the others changed all the same, so tell the instances
      throw error
    } finally {
      this.#invalidateFlights(storeKeys)
    }
  }

  #invalidateKey(storeKey: string): void {
    this.#rt.epoch++
    this.#flights.invalidate(storeKey)
    this.#reads.invalidate(storeKey)
    this.#computations.invalidate(storeKey)
  }

  #invalidateFlights(storeKeys: readonly string[] | undefined): void {
    this.#rt.epoch++
    if (storeKeys === undefined) {
      this.#flights.invalidateAll()
      this.#reads.invalidateAll()
      this.#computations.invalidateAll()
      return
    }
    for (const storeKey of storeKeys) this.#invalidateKey(storeKey)
  }

  /** Counts a hit (per-layer counters are kept by the read paths) and returns the value. */
  #hit(layer: number, key: string, entry: Entry, stale?: StaleReason): unknown {
    const { stats, events } = this.#rt
    stats.hits++
    if (stale !== undefined) this.#servedStale(layer, key, stale)
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

  #checkWrap(factory: unknown, options: object | undefined, operation: string): void {
    if (typeof factory !== 'function') {
      throw invalidOption(`${operation} factory`, `must be a function, got ${describe(factory)}`)
    }
    if (options !== undefined)
      this.#rt.policies.check(options as CallOptions, `${operation} options`)
  }

  #storeKey(key: string, operation: string): string {
    this.#checkOpen(operation)
    return toStoreKey(key, this.#maxKeyLength)
  }

  #storeKeys(keys: readonly string[], operation: string): string[] {
    this.#checkOpen(operation)
    if (!Array.isArray(keys)) {
      throw invalidOption(`${operation} keys`, `must be an array of keys, got ${describe(keys)}`)
    }
    return keys.map((key) => toStoreKey(key, this.#maxKeyLength))
  }

  #checkOpen(operation: string): void {
    if (this.#closed)
      throw new CacheError('E_CLOSED', `layercache: ${operation}() called after close()`)
  }
}
