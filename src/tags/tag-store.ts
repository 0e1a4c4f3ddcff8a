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
 * Where tag versions live. Versions are counters moved by the store itself (Redis HINCRBY), so
 * ordering never depends on any machine's clock. A moved tag is kept at least as long as the
 * longest life of any entry of the namespace (`extendLife` publishes it when it grows), so an
 * entry that recorded a tag's old version can never outlive the record that it moved: tag
 * state that vanished and reads 0 again can only make a newer entry miss, never an older one
 * valid. Writes touch no tag state at all.
 */
export interface TagStore {
  /** Current versions; a tag never moved (or long forgotten) is `{ hard: 0, soft: 0 }`. */
  fetch(tags: readonly string[]): Promise<TagVersion[]> | TagVersion[]
  /** Moves the tags and returns their new versions. */
  bump(tags: readonly string[], mode: InvalidationMode): Promise<TagVersion[]> | TagVersion[]
  /** Entries of the namespace may now live `lifeMs` (`Infinity`: for ever); moved tags are kept that long. */
  extendLife(lifeMs: number): Promise<void> | void
}

/** A moved tag is kept at least this long, however short entries live (computations in flight). */
export const BUMP_GRACE_MS = 86_400_000

/** Tag state in this process: the store of a cache with no shared layer that keeps tags. */
export class MemoryTagStore implements TagStore {
  readonly #tags = new Map<string, TagVersion & { keepUntil: number }>()
  readonly #clock: Clock
  #maxLife = BUMP_GRACE_MS
  #bumpsSincePrune = 0

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
    const keepUntil = this.#clock.now() + this.#maxLife
    if (++this.#bumpsSincePrune >= 10_000) this.#prune()
    return tags.map((tag) => {
      const state = this.#tags.get(tag) ?? { hard: 0, soft: 0, keepUntil }
      if (mode === 'expire') state.hard++
      state.soft++
      state.keepUntil = keepUntil
      this.#tags.set(tag, state)
      return { hard: state.hard, soft: state.soft }
    })
  }

  extendLife(lifeMs: number): void {
    if (lifeMs > this.#maxLife) this.#maxLife = lifeMs
  }

  /** Forgets tags no live entry can have recorded before their last move (amortized over bumps). */
  #prune(): void {
    this.#bumpsSincePrune = 0
    const now = this.#clock.now()
    for (const [tag, state] of this.#tags) if (state.keepUntil <= now) this.#tags.delete(tag)
  }
}
