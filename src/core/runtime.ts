import type { Layer } from '../layers/layer.js'
import type { PolicyBook } from './call-options.js'
import type { Clock } from './clock.js'
import type { Emitter } from './events.js'
import type { StatsCounter } from './stats.js'

/**
 * What the read and write paths share with the cache that owns them: its layers, clock,
 * counters and error reporting. One per cache instance; nothing here is module-level.
 */
export interface Runtime {
  readonly layers: readonly Layer[]
  readonly layerNames: readonly string[]
  readonly clock: Clock
  readonly random: () => number
  readonly stats: StatsCounter
  readonly events: Emitter
  readonly policies: PolicyBook
  /**
   * Bumped at the start and at the end of every mutation (set, delete, clear). A batch read
   * backfills upper layers only if no mutation overlapped it, so it never resurrects a value.
   */
  epoch: number
  /** Whether failed layer writes reject the call (with `E_LAYER`) instead of failing open. */
  readonly throwOnLayerError: boolean
  /** Counts and emits a handled layer failure. */
  layerError(layer: number, operation: string, key: string | undefined, error: unknown): void
  /** Tracks work that runs after a call resolved (backfills), so `close()` can wait for it. */
  background(work: Promise<unknown>): void
}
