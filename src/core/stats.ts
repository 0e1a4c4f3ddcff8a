/** Counters of one layer. */
export interface LayerStats {
  hits: number
  misses: number
  sets: number
  deletes: number
  errors: number
  /** Calls not made because the layer's circuit breaker was open. */
  skipped: number
}

/** Counters of a cache since creation or the last `resetStats()`. */
export interface CacheStats {
  /** Reads answered from some layer. */
  hits: number
  /** Reads no layer could answer. */
  misses: number
  /** Values written (by `set`, `wrap` or a batch). */
  sets: number
  /** Keys deleted. */
  deletes: number
  /**
   * Values served stale (see the `stale` event for the reasons): hits, and misses whose factory
   * failed or timed out with a stale value at hand.
   */
  stale: number
  /** Tags (and prefixes) invalidated. */
  invalidations: number
  /** Factory runs started by `wrap` (in the foreground or as background refreshes). */
  factoryRuns: number
  /** Background refreshes started (stale-while-revalidate, early refresh, invalidated in `stale` mode). */
  refreshes: number
  /** Factory runs that threw. */
  factoryErrors: number
  /** Calls that stopped waiting for a factory (`softTimeout`, `hardTimeout`). */
  timeouts: number
  /** Errors handled (layer failures, throwing listeners). */
  errors: number
  /** Per-layer counters, by layer name. */
  layers: Record<string, LayerStats>
}

function emptyLayerStats(): LayerStats {
  return { hits: 0, misses: 0, sets: 0, deletes: 0, errors: 0, skipped: 0 }
}

/** Mutable counters; `snapshot()` hands out copies. */
export class StatsCounter {
  hits = 0
  misses = 0
  sets = 0
  deletes = 0
  stale = 0
  invalidations = 0
  factoryRuns = 0
  refreshes = 0
  factoryErrors = 0
  timeouts = 0
  errors = 0
  /** Indexed like the cache's layers, for an allocation-free hot path. */
  readonly layers: LayerStats[]
  readonly #names: readonly string[]

  constructor(layerNames: readonly string[]) {
    this.#names = layerNames
    this.layers = layerNames.map(emptyLayerStats)
  }

  snapshot(): CacheStats {
    const layers: Record<string, LayerStats> = {}
    this.#names.forEach((name, i) => {
      layers[name] = { ...this.layers[i]! }
    })
    const { hits, misses, sets, deletes, stale, invalidations, factoryRuns, errors } = this
    const { refreshes, factoryErrors, timeouts } = this
    return {
      hits,
      misses,
      sets,
      deletes,
      stale,
      invalidations,
      factoryRuns,
      refreshes,
      factoryErrors,
      timeouts,
      errors,
      layers,
    }
  }

  reset(): void {
    this.hits = this.misses = this.sets = this.deletes = this.factoryRuns = this.errors = 0
    this.stale = this.invalidations = this.refreshes = this.factoryErrors = this.timeouts = 0
    for (const layer of this.layers) Object.assign(layer, emptyLayerStats())
  }
}
