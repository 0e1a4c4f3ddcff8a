import type { Clock } from '../core/clock.js'

/**
 * A tag's version: `hard` moves on `invalidateTags(..., { mode: 'expire' })`, `soft` on every
 * invalidation. An entry remembers both as seen when its computation started; it is invalid
 * once `hard` moved, stale once only `soft` did.
 */
export interface TagVersion {
  hard: number
  soft: number
}

/** How an invalidation treats entries: never fresh again (`expire`), or served stale while one refresh runs (`stale`). */
export type InvalidationMode = 'expire' | 'stale'

/**
 * Where tag versions live. Versions are counters moved by the store itself (Redis INCR), so
 * ordering never depends on any machine's clock. A store keeps a tag's state at least as long
 * as the entries that recorded it (`retain`), so a long-lived entry can never see its tag
 * state vanish and come back valid.
 */
export interface TagStore {
  /** Current versions; a tag never seen is `{ hard: 0, soft: 0 }`. */
  fetch(tags: readonly string[]): Promise<TagVersion[]> | TagVersion[]
  /** Moves the tags and returns their new versions. */
  bump(tags: readonly string[], mode: InvalidationMode): Promise<TagVersion[]> | TagVersion[]
  /** Keeps the state of `tags` for at least `lifeMs` (an entry carrying them is being written). */
  retain(tags: readonly string[], lifeMs: number): Promise<void> | void
}

/** How long a tag moved with no entry retaining it is remembered (for computations in flight). */
export const BUMP_GRACE_MS = 86_400_000

/** Tag state in this process: the store of a cache with no shared layer that keeps tags. */
export class MemoryTagStore implements TagStore {
  readonly #tags = new Map<string, TagVersion & { keepUntil: number }>()
  readonly #clock: Clock
  #writesSincePrune = 0

  constructor(clock: Clock) {
    this.#clock = clock
  }

  fetch(tags: readonly string[]): TagVersion[] {
    return tags.map((tag) => {
      const state = this.#tags.get(tag)
      return state ? { hard: state.hard, soft: state.soft } : { hard: 0, soft: 0 }
    })
  }

  bump(tags: readonly string[], mode: InvalidationMode): TagVersion[] {
    const now = this.#clock.now()
    return tags.map((tag) => {
      const state = this.#tags.get(tag) ?? { hard: 0, soft: 0, keepUntil: 0 }
      if (mode === 'expire') state.hard++
      state.soft++
      state.keepUntil = Math.max(state.keepUntil, now + BUMP_GRACE_MS)
      this.#tags.set(tag, state)
      return { hard: state.hard, soft: state.soft }
    })
  }

  retain(tags: readonly string[], lifeMs: number): void {
    const until = this.#clock.now() + lifeMs
    for (const tag of tags) {
      // Recorded even for a tag never moved: were it moved later, the bump's shorter grace
      // alone would let its state be pruned under this entry, which would then look valid.
      const state = this.#tags.get(tag)
      if (!state) this.#tags.set(tag, { hard: 0, soft: 0, keepUntil: until })
      else if (state.keepUntil < until) state.keepUntil = until
    }
    if (++this.#writesSincePrune >= 10_000) this.#prune()
  }

  /** Drops tags no live entry can depend on (amortized over writes). */
  #prune(): void {
    this.#writesSincePrune = 0
    const now = this.#clock.now()
    for (const [tag, state] of this.#tags) if (state.keepUntil <= now) this.#tags.delete(tag)
  }
}
