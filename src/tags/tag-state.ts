import type { Clock } from '../core/clock.js'
import type { Entry } from '../core/entry.js'
import type { InvalidationMode, TagStore, TagVersion } from './tag-store.js'

/** What an entry's tags say: serve it, serve it stale, do not serve it, or ask the store first. */
export type TagVerdict = 'fresh' | 'stale' | 'invalid' | 'unknown'

interface Known extends TagVersion {
  /** Versions are trusted until then; after, they are read from the store again. */
  trustedUntil: number
  /** The local sequence number of the last bump of this tag made here. */
  bumpedAt: number
}

/** Tags remembered at most; beyond, the oldest are forgotten (and read again when needed). */
const MAX_KNOWN = 100_000

const NEVER_MOVED: TagVersion = { hard: 0, soft: 0 }

/**
 * This process's view of tag versions. Reads check an entry's recorded versions against it;
 * the verdict is memoised on the entry until the view changes (`epoch`) or its trust window
 * ends, so a hit on a tagged entry usually costs two comparisons. One fetch serves concurrent
 * callers. A fetch that raced with a bump made here cannot lower what the bump set; otherwise
 * the store is the truth (a tag's state may legitimately vanish once no entry needs it).
 */
export class TagState {
  /** Moves whenever a known version changes; memoised verdicts of older epochs are rechecked. */
  epoch = 0
  readonly #known = new Map<string, Known>()
  readonly #fetching = new Map<string, Promise<void>>()
  #sequence = 0
  /** The longest entry life told to the store so far. */
  #toldLife = 0
  readonly #store: TagStore
  readonly #clock: Clock
  readonly #trustMs: number
  readonly #onError: (operation: string, error: unknown) => void

  /**
   * @param shared whether every instance reads this store (Redis); else each instance keeps
   * its own tag state, and applies the moves other instances announce itself.
   */
  constructor(
    store: TagStore,
    clock: Clock,
    trustMs: number,
    onError: (operation: string, error: unknown) => void,
    readonly shared = false,
  ) {
    this.#store = store
    this.#clock = clock
    this.#trustMs = trustMs
    this.#onError = onError
  }

  /**
   * True when `entry` carries no tags, or its memoised verdict is current and fresh. Small on
   * purpose, so that the hit path can inline it; anything else goes through `check`.
   */
  trusts(entry: Entry, now: number): boolean {
    return (
      entry.tags === undefined ||
      (entry.checkedEpoch === this.epoch &&
        now < entry.checkedUntil! &&
        entry.verdict === 'fresh') ||
      this.check(entry, now) === 'fresh'
    )
  }

  /**
   * The verdict on `entry`'s tags from what is known now; `'unknown'` asks for `load()` first.
   * `justLoaded` judges by versions just read for this call even if the trust window is shorter
   * than a round trip (`tagTrust: 0` then means: ask the store on every read).
   */
  check(entry: Entry, now: number, justLoaded = false): TagVerdict {
    const tags = entry.tags
    if (tags === undefined) return 'fresh'
    if (!justLoaded && entry.checkedEpoch === this.epoch && now < entry.checkedUntil!) {
      return entry.verdict!
    }
    const versions = entry.tagVersions
    let verdict: TagVerdict = 'fresh'
    let until = Number.POSITIVE_INFINITY
    for (let i = 0; i < tags.length; i++) {
      const known = this.#known.get(tags[i]!)
      if (known === undefined || (!justLoaded && now >= known.trustedUntil)) return 'unknown'
      if (known.trustedUntil < until) until = known.trustedUntil
      const hard = versions?.[2 * i] ?? 0
      const soft = versions?.[2 * i + 1] ?? 0
      if (known.hard !== hard) {
        verdict = 'invalid'
        break
      }
      if (known.soft !== soft) verdict = 'stale'
    }
    entry.checkedEpoch = this.epoch
    entry.checkedUntil = until
    entry.verdict = verdict
    return verdict
  }

  /** Makes the versions of `tags` known and trusted, reading the store at most once per tag. */
  async load(tags: readonly string[]): Promise<void> {
    const now = this.#clock.now()
    const missing = tags.filter((tag) => {
      const known = this.#known.get(tag)
      return known === undefined || now >= known.trustedUntil
    })
    if (missing.length === 0) return
    const waits: Promise<void>[] = []
    const toFetch: string[] = []
    for (const tag of missing) {
      const running = this.#fetching.get(tag)
      if (running) waits.push(running)
      else toFetch.push(tag)
    }
    if (toFetch.length > 0) {
      const fetching = this.#fetch(toFetch)
      for (const tag of toFetch) this.#fetching.set(tag, fetching)
      waits.push(
        fetching.finally(() => {
          for (const tag of toFetch) this.#fetching.delete(tag)
        }),
      )
    }
    await Promise.all(waits)
  }

  /**
   * The versions to record for `tags` in an entry whose computation starts now: [hard, soft, ...].
   * Synchronous when all of them are trusted here (the usual case), a promise otherwise.
   */
  capture(tags: readonly string[]): number[] | Promise<number[]> {
    const now = this.#clock.now()
    for (const tag of tags) {
      const known = this.#known.get(tag)
      if (known === undefined || now >= known.trustedUntil)
        return this.load(tags).then(() => this.#flatten(tags))
    }
    return this.#flatten(tags)
  }

  /**
   * Whether every tag is still at the recorded versions, asking the store itself (not the
   * trusted view): an invalidation by another instance while a factory ran is caught here.
   * When the store cannot answer, there is no news: true.
   */
  async unchangedSince(tags: readonly string[], recorded: readonly number[]): Promise<boolean> {
    if (tags.length === 0) return true
    try {
      await this.#fetch(tags, true)
    } catch {
      return true
    }
    const current = this.#flatten(tags)
    return current.every((version, i) => version === recorded[i])
  }

  /** Moves `tags` in the store and in this view; returns the new versions, `[hard, soft]` per tag. */
  async bump(tags: readonly string[], mode: InvalidationMode): Promise<number[]> {
    const versions = await this.#store.bump(tags, mode)
    this.#merge(tags, versions, this.#clock.now(), ++this.#sequence, true)
    return this.#flatten(tags)
  }

  /**
   * Versions another instance moved `tags` to (from the bus): known at once, without a round
   * trip, and never lowered (a message may overtake a fetch, or arrive twice).
   */
  apply(tags: readonly string[], versions: readonly number[]): void {
    const moved: TagVersion[] = tags.map((tag, i) => {
      const known = this.#known.get(tag) ?? NEVER_MOVED
      return {
        hard: Math.max(known.hard, versions[2 * i] ?? 0),
        soft: Math.max(known.soft, versions[2 * i + 1] ?? 0),
      }
    })
    this.#merge(tags, moved, this.#clock.now(), ++this.#sequence, true)
  }

  /** Forgets every version known here (messages may have been missed): each is read again. */
  forget(): void {
    this.#known.clear()
    this.epoch++
  }

  /**
   * Tells the store that an entry may live `lifeMs`, when that is longer than any life told
   * before: rare, so writes almost never touch tag state. Failures are reported, not thrown.
   */
  extendLife(lifeMs: number): Promise<void> | undefined {
    if (lifeMs <= this.#toldLife) return undefined
    // Headroom, so that lives a little longer than the last one told (jitter) stay quiet.
    lifeMs = lifeMs === Number.POSITIVE_INFINITY ? lifeMs : Math.ceil(lifeMs * 1.5)
    this.#toldLife = lifeMs
    try {
      const result = this.#store.extendLife(lifeMs)
      return result
        ? result.catch((error: unknown) => this.#lifeFailed('retain', error, lifeMs))
        : undefined
    } catch (error) {
      this.#lifeFailed('retain', error, lifeMs)
      return undefined
    }
  }

  #lifeFailed(operation: string, error: unknown, lifeMs: number): void {
    // Not told after all: the next write of that life tries again.
    if (this.#toldLife === lifeMs) this.#toldLife = 0
    this.#onError(operation, error)
  }

  #flatten(tags: readonly string[]): number[] {
    const flat: number[] = []
    for (const tag of tags) {
      const known = this.#known.get(tag) ?? NEVER_MOVED
      flat.push(known.hard, known.soft)
    }
    return flat
  }

  async #fetch(tags: readonly string[], strict = false): Promise<void> {
    const now = this.#clock.now()
    const startedAt = this.#sequence
    let versions: TagVersion[]
    try {
      versions = await this.#store.fetch(tags)
    } catch (error) {
      this.#onError('tags', error)
      if (strict) throw error
      // No news from the store: keep what is known (a tag never seen counts as never moved)
      // and ask again after another trust window, rather than on every read.
      versions = tags.map((tag) => this.#known.get(tag) ?? NEVER_MOVED)
    }
    this.#merge(tags, versions, now, startedAt, false)
  }

  /** Records versions read (`bump` false, from a fetch started at `sequence`) or set by a bump. */
  #merge(
    tags: readonly string[],
    versions: readonly TagVersion[],
    now: number,
    sequence: number,
    bump: boolean,
  ): void {
    const trustedUntil = now + this.#trustMs
    tags.forEach((tag, i) => {
      const next = versions[i] ?? NEVER_MOVED
      const known = this.#known.get(tag)
      if (known === undefined) {
        if (this.#known.size >= MAX_KNOWN) this.#known.delete(this.#known.keys().next().value!)
        this.#known.set(tag, {
          hard: next.hard,
          soft: next.soft,
          trustedUntil,
          bumpedAt: bump ? sequence : 0,
        })
        this.epoch++
        return
      }
      // A fetch that started before a bump made here may answer with the versions from before it.
      const raced = !bump && known.bumpedAt > sequence
      const hard = raced ? Math.max(known.hard, next.hard) : next.hard
      const soft = raced ? Math.max(known.soft, next.soft) : next.soft
      if (hard !== known.hard || soft !== known.soft) {
        known.hard = hard
        known.soft = soft
        this.epoch++
      }
      if (bump) known.bumpedAt = sequence
      known.trustedUntil = trustedUntil
    })
  }
}
