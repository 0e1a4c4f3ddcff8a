import type { Layer } from '../layers/layer.js'
import type { Prefixes } from '../tags/tag-names.js'
import type { TagState } from '../tags/tag-state.js'
import type { PolicyBook } from './call-options.js'
import { type Clock, scheduler } from './clock.js'
import type { CacheError } from './errors.js'
import { Emitter } from './events.js'
import type { LockStore } from './lock.js'
import { StatsCounter } from './stats.js'

/**
 * What the read and write paths share with the cache that owns them: its layers, clock,
 * counters, tag state and error reporting. One per cache instance; nothing here is module-level.
 */
export interface Runtime {
  readonly layers: readonly Layer[]
  readonly layerNames: readonly string[]
  readonly clock: Clock
  /**
   * Runs `callback` after `delayMs` on the cache's clock; returns a cancel function. Real
   * timers are unref'd unless `keepAlive`.
   */
  readonly schedule: (callback: () => void, delayMs: number, keepAlive?: boolean) => () => void
  readonly random: () => number
  /** Leases for `lock: 'distributed'`, from the first layer that offers them. */
  readonly locks: LockStore | undefined
  /** The index of that layer (-1 without one): its failures are its own. */
  readonly lockLayer: number
  /** Whether any policy turns early refresh on (else wrap hits skip the check entirely). */
  readonly earlyRefresh: boolean
  readonly stats: StatsCounter
  readonly events: Emitter
  readonly policies: PolicyBook
  readonly tags: TagState
  readonly prefixes: Prefixes
  /**
   * Bumped at the start and at the end of every mutation (set, delete, clear). A batch read
   * backfills upper layers only if no mutation overlapped it, so it never resurrects a value.
   */
  epoch: number
  /** Per layer: private to this process (memory), kept coherent by the bus. */
  readonly local: readonly boolean[]
  /**
   * The longest TTL a local layer may get: `Infinity`, except while the bus is down, when
   * local layers are trusted only for the cache's `busTrust`.
   */
  localCap: number
  /** Whether failed layer writes reject the call (with `E_LAYER`) instead of failing open. */
  readonly throwOnLayerError: boolean
  /** Counts and emits a handled layer failure (`layer` -1: not a layer's, e.g. tag state). */
  layerError(layer: number, operation: string, key: string | undefined, error: unknown): void
  /** Tracks work that runs after a call resolved (backfills, refreshes), so `close()` can wait for it. */
  background(work: Promise<unknown>): void
}

/** What a runtime is built from. */
export interface RuntimeParts {
  layers: readonly Layer[]
  clock: Clock
  locks: LockStore | undefined
  lockLayer: number
  random: () => number
  policies: PolicyBook
  prefixes: Prefixes
  throwOnLayerError: boolean
  /** Made once the runtime exists, since it reports its failures through it. */
  tags: (rt: Runtime) => TagState
}

/** Builds the runtime of one cache; `pending` collects its background work. */
export function createRuntime(parts: RuntimeParts, pending: Set<Promise<unknown>>): Runtime {
  const layerNames = parts.layers.map((layer) => layer.name)
  const stats = new StatsCounter(layerNames)
  const events = new Emitter(() => stats.errors++)
  const rt: Runtime = {
    layers: parts.layers,
    layerNames,
    clock: parts.clock,
    schedule: scheduler(parts.clock),
    random: parts.random,
    locks: parts.locks,
    lockLayer: parts.lockLayer,
    earlyRefresh: parts.policies.names().some((name) => parts.policies.get(name)!.earlyRefresh > 0),
    stats,
    events,
    policies: parts.policies,
    prefixes: parts.prefixes,
    tags: undefined as unknown as TagState,
    epoch: 0,
    local: parts.layers.map((layer) => layer.local === true),
    localCap: Number.POSITIVE_INFINITY,
    throwOnLayerError: parts.throwOnLayerError,
    layerError(layer, operation, key, error) {
      if ((error as CacheError | undefined)?.code === 'E_CIRCUIT_OPEN') {
        if (layer >= 0) stats.layers[layer]!.skipped++
        return
      }
      stats.errors++
      if (layer >= 0) stats.layers[layer]!.errors++
      if (events.has('error'))
        events.emit('error', { error, operation, key, layer: layerNames[layer] })
    },
    background(work) {
      pending.add(work)
      work.finally(() => pending.delete(work))
    },
  }
  ;(rt as { tags: TagState }).tags = parts.tags(rt)
  return rt
}

/** Waits `ms` on the cache's clock (a real timer keeps the process up only with `keepAlive`). */
export function sleep(rt: Runtime, ms: number, keepAlive = false): Promise<void> {
  return new Promise((resolve) => {
    rt.schedule(resolve, ms, keepAlive)
  })
}
