import { checkTags, MAX_TAGS_PER_ENTRY } from '../tags/tag-names.js'
import { type Duration, parseDuration } from './durations.js'
import type { Entry } from './entry.js'
import { invalidOption } from './errors.js'
import { applyJitter, type ResolvedPolicy } from './policies.js'
import type { Runtime } from './runtime.js'
import type { Flight } from './single-flight.js'
import { buildEntry, writeThrough } from './write-path.js'

/**
 * Computes a value on a miss. It may return the value or a promise of it, and may use `ctx`
 * to adapt how the value is cached.
 */
export type Factory<T> = (ctx: FactoryContext<T>) => T | Promise<T>

/**
 * What a factory knows of its computation, and how it may change what is cached.
 *
 * @example
 * await cache.wrap(`report:${id}`, async (ctx) => {
 *   const report = await db.reports.find(id)
 *   if (!report) ctx.setTtl('30s') // cache "not found" briefly (with `negativeTtl`, or set here)
 *   else if (report.final) ctx.setTtl('7d')
 *   return report
 * })
 */
export interface FactoryContext<T> {
  /** The key being computed. */
  readonly key: string
  /**
   * The value this computation replaces, when the cache still holds one (expired within its
   * stale life, or invalidated in `stale` mode): e.g. for a conditional request to the origin.
   */
  readonly stale: T | undefined
  /** Whether `stale` holds a replaced value (it may itself be `undefined`). */
  readonly hasStale: boolean
  /** Caches this value for `ttl` instead of the policy's TTL (`0`: do not cache it). */
  setTtl(ttl: Duration): void
  /** Adds tags to this entry (recorded once the value exists, like tags given as a function). */
  setTags(tags: readonly string[]): void
  /** Returns the value to the callers without caching it. */
  skip(): void
}

/** Tags of a `wrap` that depend on the computed value. */
export type TagsOf<T> = (value: T) => readonly string[]

/** One miss to compute. */
export interface Computation<T> {
  key: string
  storeKey: string
  factory: Factory<T>
  policy: ResolvedPolicy
  tagsOf?: TagsOf<T>
  /** The options' path in error messages: `wrap options`, `wrapResult options`. */
  path: string
  /** The entry this computation replaces, if the cache still holds one (see `FactoryContext.stale`). */
  stale?: Entry
}

/** The context handed to one factory run, and what the factory asked of it. */
class Context<T> implements FactoryContext<T> {
  ttl: number | undefined
  extraTags: string[] | undefined
  skipped = false

  constructor(
    readonly key: string,
    readonly staleEntry: Entry | undefined,
  ) {}

  get stale(): T | undefined {
    return this.staleEntry?.value as T | undefined
  }

  get hasStale(): boolean {
    return this.staleEntry !== undefined
  }

  setTtl(ttl: Duration): void {
    this.ttl = parseDuration(ttl, 'ctx.setTtl ttl', true)
  }

  setTags(tags: readonly string[]): void {
    const checked = checkTags(tags, 'ctx.setTags tags')
    this.extraTags = this.extraTags ? [...this.extraTags, ...checked] : [...checked]
  }

  skip(): void {
    this.skipped = true
  }
}

/** The tag versions of an entry without tags. */
export const NO_VERSIONS: readonly number[] = Object.freeze([])

/** The tags an entry of `key` carries before its value is known: its policy's and its key's prefixes. */
export function tagsBefore(rt: Runtime, key: string, policy: ResolvedPolicy): readonly string[] {
  const prefixes = rt.prefixes.of(key)
  if (prefixes.length === 0) return policy.tags
  return policy.tags.length === 0 ? prefixes : [...new Set([...policy.tags, ...prefixes])]
}

/** What a computation answers: its value, whether it was stored, and the envelope stored or read. */
export interface Computed<T> {
  value: T
  stored: boolean
  entry?: Entry
}

/**
 * Runs the factory of a miss and stores its value. The versions of the entry's tags are
 * recorded before the factory starts; after it, the tag store itself is asked whether any of
 * them moved, and if so the value is returned to the callers but not stored: a computation
 * that started before an invalidation never becomes visible after it (no stale set).
 * Tags given as a function of the value can only be recorded once the value exists.
 */
export async function computeAndStore<T>(
  rt: Runtime,
  job: Computation<T>,
  flight: Flight<unknown>,
  failed: ReadonlySet<number>,
): Promise<Computed<T>> {
  const { key, storeKey, policy } = job
  const tags = tagsBefore(rt, key, policy)
  const recorded = tags.length > 0 ? await rt.tags.capture(tags) : NO_VERSIONS
  rt.stats.factoryRuns++
  const startedAt = rt.clock.now()
  const ctx = new Context<T>(key, job.stale)
  const value = await job.factory(ctx)
  if (ctx.skipped) return { value, stored: false }
  const ttl = ctx.ttl ?? (value === undefined ? policy.negativeTtl : undefined)
  if (ttl === 0) return { value, stored: false } // `undefined` without negative caching, or setTtl(0)
  let allTags = tags
  let versions = recorded
  const extraTags = [
    ...(job.tagsOf ? checkTags(job.tagsOf(value), `${job.path}.tags(value)`) : []),
    ...(ctx.extraTags ?? []),
  ].filter((tag, i, all) => !tags.includes(tag) && all.indexOf(tag) === i)
  if (extraTags.length > 0) {
    allTags = [...tags, ...extraTags]
    versions = [...recorded, ...(await rt.tags.capture(extraTags))]
  }
  if (allTags.length > MAX_TAGS_PER_ENTRY) {
    throw invalidOption(
      `${job.path}.tags`,
      `gives the entry ${allTags.length} tags; an entry carries at most ${MAX_TAGS_PER_ENTRY}`,
    )
  }
  // Before the check below: a tag moved after it must be kept as long as this entry lives.
  const { entry, jitter, now } = await stampForWrite(
    rt,
    value,
    policy,
    key,
    storeKey,
    startedAt,
    allTags,
    versions,
    ttl ?? policy.ttl, // the factory's setTtl, or negativeTtl for `undefined`
  )
  if (tags.length > 0 && !(await rt.tags.unchangedSince(tags, recorded))) {
    return { value, stored: false }
  }
  const stored = await writeThrough(
    rt,
    key,
    storeKey,
    entry,
    policy,
    jitter,
    tags.length > 0 ? rt.clock.now() : now, // awaited the tag store since: read the clock again
    flight,
    failed,
  )
  return { value, stored, entry: stored ? entry : undefined }
}

/**
 * Stamps the envelope of a value about to be written (see {@link stampedEntry}) and, when it
 * carries tags, tells the tag store how long it may live first: a tag moved after this must be
 * kept that long. `now` is the clock after that (read again only when the store was asked).
 */
export async function stampForWrite(
  rt: Runtime,
  value: unknown,
  policy: ResolvedPolicy,
  key: string,
  storeKey: string,
  startedAt: number,
  tags: readonly string[],
  versions: readonly number[],
  ttl: number,
  now?: number,
): Promise<{ entry: Entry; jitter: number; now: number }> {
  const stamped = stampedEntry(
    rt,
    value,
    policy,
    key,
    storeKey,
    startedAt,
    tags,
    versions,
    now,
    ttl,
  )
  if (tags.length === 0) return stamped
  const asked = rt.tags.extendLife(stamped.entry.staleUntil - rt.clock.now())
  if (asked === undefined) return stamped
  await asked
  return { ...stamped, now: rt.clock.now() }
}

/**
 * The envelope of a value about to be written: its TTL jittered by one random draw (returned,
 * since per-layer TTLs use the same draw), its tags and their recorded versions stamped in.
 */
export function stampedEntry(
  rt: Runtime,
  value: unknown,
  policy: ResolvedPolicy,
  key: string,
  storeKey: string,
  startedAt: number,
  tags: readonly string[],
  versions: readonly number[],
  now = rt.clock.now(),
  baseTtl = policy.ttl,
): { entry: Entry; jitter: number; now: number } {
  const jitter = rt.random()
  const ttl = applyJitter(policy, baseTtl, jitter)
  const entry = buildEntry(value, policy, key, storeKey, startedAt, now, ttl)
  if (tags.length > 0) {
    entry.tags = tags
    entry.tagVersions = versions
  }
  return { entry, jitter, now }
}
