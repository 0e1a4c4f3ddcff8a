import { setTimeout as sleep } from 'node:timers/promises'
import { runInNewContext } from 'node:vm'
import { Cacheable, createKeyv } from 'cacheable'
import { type Cache, createCache, memoryLayer } from 'layercache'
import { MAX_ENTRIES, TTL_MS } from '../lib/anchors.js'
import { median } from '../lib/measure.js'
import {
  bentocacheRedis,
  dropKeyvRedis,
  fillAll,
  keyvRedis,
  layercacheRedis,
  redisServer,
} from '../lib/redis.js'
import { formatRatio, printTable } from '../lib/report.js'
import type { Contender, Probe, ProbeResult, Scenario, Subject, Suite } from '../lib/suite.js'

// Tags: what invalidateTags costs against the number of entries carrying tags (in memory and
// over Redis), what a tag costs a memory hit, and whether anyone reads an old value right after
// an invalidation (on the instance that made it, and on a second one sharing Redis).

// measure.js (imported above) sets --expose-gc; a full GC before each timed series.
const collect = runInNewContext('gc') as (() => void) | undefined

/** Tags of the invalidation scenario: entry i carries `tag:${i % TAG_COUNT}`. */
const TAG_COUNT = 1000
// One options object per tag, reused: layercache parses call options once per object.
const tagOptions = Array.from({ length: TAG_COUNT }, (_, t) => ({ tags: [`tag:${t}`] }))
/** Keys without ':', so that entries carry exactly their one user tag and no prefix tag. */
const itemKey = (i: number) => `item${i}`

const WARMUP_CALLS = 200

/** The entry of `tag:7` is gone after invalidating it, and an entry of `tag:8` is not. */
async function checkInvalidation(cache: Cache): Promise<string | undefined> {
  const before = [await cache.get(itemKey(7)), await cache.get(itemKey(8))]
  await cache.invalidateTags(['tag:7'])
  const after = [
    await cache.get(itemKey(7)),
    await cache.get(itemKey(1007)),
    await cache.get(itemKey(8)),
  ]
  if (before[0] !== 7 || before[1] !== 8) return `before: ${JSON.stringify(before)}`
  if (after[0] !== undefined || after[1] !== undefined) return 'tag:7 entries still served'
  if (after[2] !== 8) return 'an entry of tag:8 was lost'
  return undefined
}

/**
 * Commands Redis has processed so far (INFO): in all, and EVAL calls among them. Commands a
 * script runs count in the total, so an invalidation is one EVAL and several commands.
 */
async function redisCommands(): Promise<{ total: number; evals: number }> {
  const server = await redisServer()
  const stats = (await server.command('INFO', 'stats')) ?? ''
  const commands = (await server.command('INFO', 'commandstats')) ?? ''
  return {
    total: Number(/total_commands_processed:(\d+)/.exec(stats)?.[1] ?? Number.NaN),
    evals: Number(/cmdstat_eval:calls=(\d+)/.exec(commands)?.[1] ?? 0),
  }
}

interface InvalidationRow {
  backend: 'memory' | 'redis'
  entries: number
  fillMs: number
  ms: number[]
  /** Per invalidation: EVAL calls (round trips), and commands in all (those of the script too). */
  evalsPerCall?: number
  commandsPerCall?: number
  problem?: string
}

/** A cache holding `entries` tagged entries, and how long filling it took. */
async function filled(
  backend: 'memory' | 'redis',
  entries: number,
): Promise<{ cache: Cache; fillMs: number }> {
  const start = performance.now()
  if (backend === 'memory') {
    const cache = createCache({ layers: [memoryLayer({ maxEntries: 1_100_000 })] })
    for (let i = 0; i < entries; i++) await cache.set(itemKey(i), i, tagOptions[i % TAG_COUNT])
    return { cache, fillMs: performance.now() - start }
  }
  const { cache } = await layercacheRedis(`tags-inv-${entries}`, true)
  const keys = Array.from({ length: entries }, (_, i) => itemKey(i))
  await fillAll(keys, (key, i) => cache.set(key, i, tagOptions[i % TAG_COUNT]))
  return { cache, fillMs: performance.now() - start }
}

/** Calls timed in a row on one cache before the next cache takes its turn. */
const TURN = 100

/**
 * Times `calls` awaited invalidations on each cache, each of one tag (a different one each
 * time), one at a time. The caches take turns, TURN calls each, so that a drift of the machine
 * (or of Redis) during the run hits all of them alike. Returns ms per call, sorted, per cache.
 */
async function timeInTurns(caches: readonly Cache[], calls: number): Promise<number[][]> {
  // Warm-up on tags no entry carries (the JIT, the tag store's first moves).
  for (const cache of caches)
    for (let k = 0; k < WARMUP_CALLS; k++) await cache.invalidateTags([`warm:${k}`])
  collect?.()
  const ms: number[][] = caches.map(() => [])
  for (let done = 0; done < calls; done += TURN) {
    for (const [c, cache] of caches.entries()) {
      for (let k = done; k < Math.min(calls, done + TURN); k++) {
        const tag = tagOptions[(k * 7) % TAG_COUNT]!.tags
        const start = process.hrtime.bigint()
        await cache.invalidateTags(tag)
        ms[c]!.push(Number(process.hrtime.bigint() - start) / 1e6)
      }
    }
  }
  return ms.map((list) => list.sort((a, b) => a - b))
}

/** Fills one cache per size, checks them, then times their invalidations in turns. */
async function invalidationRows(
  backend: 'memory' | 'redis',
  sizes: readonly number[],
  calls: number,
): Promise<InvalidationRow[]> {
  const made: { entries: number; cache: Cache; fillMs: number }[] = []
  try {
    for (const entries of sizes) made.push({ entries, ...(await filled(backend, entries)) })
    const problems: (string | undefined)[] = []
    for (const { cache } of made) problems.push(await checkInvalidation(cache))
    const before = backend === 'redis' ? await redisCommands() : undefined
    const ms = await timeInTurns(
      made.map(({ cache }) => cache),
      calls,
    )
    const rows = made.map(
      ({ entries, fillMs }, i): InvalidationRow => ({
        backend,
        entries,
        fillMs,
        ms: ms[i]!,
        problem: problems[i],
      }),
    )
    if (before) {
      const after = await redisCommands()
      // Warm-up calls included; the two INFO calls that read the counters count themselves.
      const invalidations = made.length * (calls + WARMUP_CALLS)
      for (const row of rows) {
        row.evalsPerCall = (after.evals - before.evals) / invalidations
        row.commandsPerCall = (after.total - before.total - 2) / invalidations
      }
    }
    return rows
  } finally {
    await Promise.all(made.map(({ cache }) => cache.close()))
  }
}

/** ms as printed: µs below 1 ms. */
export function formatDuration(ms: number): string {
  return ms < 1 ? `${(ms * 1000).toFixed(1)} µs` : `${ms.toFixed(2)} ms`
}

const quantile = (sorted: readonly number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!

/** invalidateTags of one tag, against 100,000 and 1,000,000 entries in memory, 10,000 and 100,000 over Redis. */
async function runInvalidate(): Promise<ProbeResult> {
  const started = Date.now()
  const rows: InvalidationRow[] = []
  rows.push(...(await invalidationRows('memory', [100_000, 1_000_000], 20_000)))
  collect?.()
  rows.push(...(await invalidationRows('redis', [10_000, 100_000], 2_000)))
  console.log(
    `\n### invalidateTags of one tag, against the number of tagged entries [tags-invalidate]`,
  )
  console.log(
    `entry i carries tag:\${i % ${TAG_COUNT}}; each call invalidates one tag (a different one each time), awaited one at a time, after ${WARMUP_CALLS} warm-up calls; the two caches of each backend take turns, ${TURN} calls each; ${((Date.now() - started) / 1000).toFixed(1)} s in all\n`,
  )
  printTable(
    [
      'cache',
      'tagged entries',
      'fill',
      'calls',
      'median',
      'p90',
      'p99',
      'max',
      'Redis EVALs/call',
      'commands/call',
    ],
    rows.map((row) => [
      row.backend === 'memory' ? 'memory only' : 'memory (10,000) + Redis, tag state in Redis',
      row.entries.toLocaleString('en-US'),
      `${(row.fillMs / 1000).toFixed(1)} s`,
      row.ms.length.toLocaleString('en-US'),
      formatDuration(median(row.ms)),
      formatDuration(quantile(row.ms, 0.9)),
      formatDuration(quantile(row.ms, 0.99)),
      formatDuration(row.ms[row.ms.length - 1]!),
      row.evalsPerCall === undefined ? '-' : row.evalsPerCall.toFixed(2),
      row.commandsPerCall === undefined ? '-' : row.commandsPerCall.toFixed(2),
    ]),
  )
  const med = (backend: string, entries: number) =>
    median(rows.find((r) => r.backend === backend && r.entries === entries)!.ms)
  console.log(
    `- 10x the entries: memory ${formatRatio(med('memory', 1_000_000) / med('memory', 100_000))} the time, Redis ${formatRatio(med('redis', 100_000) / med('redis', 10_000))}`,
  )
  const redisFill = rows.find((r) => r.backend === 'redis' && r.entries === 100_000)!
  const setsPerSecond = (100_000 / redisFill.fillMs) * 1000
  console.log(
    `- Redis gets 100,000 entries at most: at this run's ${Math.round(setsPerSecond).toLocaleString('en-US')} sets/s (64 in flight), 1,000,000 would take ${Math.round(1_000_000 / setsPerSecond)} s to write, and tell nothing new: an invalidation touches no entry.`,
  )
  for (const row of rows)
    if (row.problem) console.log(`WARNING ${row.backend} ${row.entries}: ${row.problem}`)
  const figures: ProbeResult['figures'] = {}
  for (const row of rows) figures[`${row.backend} ${row.entries}`] = median(row.ms)
  return { id: 'tags-invalidate', figures }
}

// --- get of a tagged L1-resident entry -------------------------------------------------------

const HOT = 1024
const HOT_MASK = HOT - 1
/** Keys without ':' (no prefix tag) and with ':' (one prefix tag, `#p:user:`, with `prefixes: true`). */
const plainKeys = Array.from({ length: HOT }, (_, i) => `user${i}`)
const colonKeys = Array.from({ length: HOT }, (_, i) => `user:${i}`)
// Hashed now, so that no contender pays for hashing strings the others reuse (see makeKeys).
new Set([...plainKeys, ...colonKeys])

const userOf = (i: number) => ({ id: i, name: `user ${i}`, roles: ['reader'] })

/** A memory-only cache holding HOT users under `keys`, each set with `tagsOf(i)`. */
async function hotSubject(
  keys: readonly string[],
  tagsOf: (i: number) => string[] | undefined,
): Promise<Subject> {
  const cache = createCache({
    layers: [memoryLayer({ maxEntries: MAX_ENTRIES })],
    policies: { default: { ttl: TTL_MS } },
    prefixes: true, // so that a key with ':' carries its prefix tag, as measured below
  })
  for (let i = 0; i < HOT; i++) {
    const tags = tagsOf(i)
    await cache.set(keys[i]!, userOf(i), tags ? { tags } : undefined)
  }
  const op = (n: number) => cache.get(keys[n & HOT_MASK]!)
  return {
    op,
    async check() {
      const sample = (await op(7)) as { id: number } | undefined
      const { misses } = cache.stats()
      if (misses > 0) return `${misses} misses: not all calls were hits`
      if (sample?.id !== 7) return `returned ${JSON.stringify(sample)} for ${keys[7]}`
      return undefined
    },
    close: () => cache.close(),
  }
}

/** The names the target checks look for. */
export const GET_UNTAGGED = 'get, no tags (key without :)'
export const GET_ONE_TAG = 'get, 1 tag'
export const GET_THREE_TAGS = 'get, 3 tags'

const getContenders: Contender[] = [
  { name: GET_UNTAGGED, setup: () => hotSubject(plainKeys, () => undefined) },
  { name: GET_ONE_TAG, setup: () => hotSubject(plainKeys, (i) => [`user:${i}`]) },
  {
    name: GET_THREE_TAGS,
    setup: () => hotSubject(plainKeys, (i) => [`user:${i}`, `org:${i % 16}`, 'users']),
  },
  {
    name: 'get, no user tags, key with : (prefixes: true, 1 prefix tag)',
    setup: () => hotSubject(colonKeys, () => undefined),
  },
]

function getScenario(): Scenario {
  return {
    id: 'tags-get',
    title: 'Awaited get hit of an L1-resident entry, untagged vs tagged (memory only, 1,024 keys)',
    baseline: GET_UNTAGGED,
    options: { iterations: 1_000_000, rounds: 11, roundMs: 100 },
    contenders: getContenders,
    // The four share the hit path, as one application's entries do; turns cancel drifts.
    interleave: true,
  }
}

// --- stale reads right after an invalidation -------------------------------------------------

const STALE_KEYS = 1000
/** How long the second instance is watched for, at most, until it stops serving old values. */
const WATCH_MS = 2000

/** Two instances of one library sharing the run's Redis, with memory above it. */
interface TwoInstances {
  /** Get-or-set on instance 0 (A) or 1 (B) of `key` tagged `group`, from `load`. */
  read(instance: 0 | 1, key: string, load: () => Promise<string>): Promise<unknown>
  /** Invalidates the tag `group` on A; resolves when the library says it is done. */
  invalidate(): Promise<unknown>
  close(): Promise<unknown>
}

interface StaleContender {
  name: string
  /** How B learns of A's invalidation, for the report. */
  crossInstance: string
  setup(group: string): Promise<TwoInstances>
}

const staleContenders: StaleContender[] = [
  {
    name: 'layercache',
    crossInstance: "tag versions in Redis, trusted for tagTrust ('1s', the default); no bus yet",
    async setup(group) {
      const a = await layercacheRedis('tags-stale', true)
      const b = await layercacheRedis('tags-stale', true)
      const caches = [a.cache, b.cache]
      const options = { tags: [group] }
      return {
        read: (i, key, load) => caches[i]!.wrap(key, load, options),
        invalidate: () => a.cache.invalidateTags([group]),
        close: () => Promise.all(caches.map((cache) => cache.close())),
      }
    },
  },
  {
    name: 'bentocache',
    crossInstance: 'tag timestamps in L1 and Redis; no bus configured (its bus would carry it)',
    async setup(group) {
      const bentos = [await bentocacheRedis(true), await bentocacheRedis(true)]
      return {
        read: (i, key, load) => bentos[i]!.getOrSet({ key, factory: load, tags: [group] }),
        invalidate: () => bentos[0]!.deleteByTag({ tags: [group] }),
        close: () => Promise.all(bentos.map((bento) => bento.disconnectAll())),
      }
    },
  },
  {
    name: 'cacheable',
    crossInstance: 'tag versions in Redis (secondary), read on every get',
    async setup(group) {
      const stores = [await keyvRedis(), await keyvRedis()]
      const caches = stores.map(
        ({ keyv }) =>
          new Cacheable({
            primary: createKeyv({ lruSize: MAX_ENTRIES }),
            secondary: keyv,
            ttl: TTL_MS,
            tags: true,
          }),
      )
      const options = { tags: [group] }
      return {
        // cacheable's getOrSet takes no tags: a get, then a set with tags on a miss.
        async read(i, key, load) {
          const cache = caches[i]!
          let value = await cache.get<string>(key)
          if (value === undefined) {
            value = await load()
            await cache.set(key, value, options)
          }
          return value
        },
        invalidate: () => caches[0]!.tags.invalidateTags([group]),
        async close() {
          for (const { store } of stores) dropKeyvRedis(store)
          await Promise.all(caches.map((cache) => cache.disconnect()))
        },
      }
    },
  },
]

/** One round: warm both instances, change the data, invalidate on A, read on `first` then on the other. */
interface StaleRound {
  /** Old values read on the instance that reads first, then on the other one. */
  oldFirst: number
  oldSecond: number
  /** How long the first instance's reads took (misses and recomputations included). */
  firstReadMs: number
  invalidateMs: number
  /** B's reads of the warm keys before the invalidation (L1 hits), in all. */
  warmReadMs: number
  /** ms after invalidate() resolved until B read the new value of a key; undefined: not within WATCH_MS. */
  convergedMs?: number
  /** Old values on B once it did (or at the end of the watch). */
  oldAfterWatch?: number
}

async function staleRound(
  contender: StaleContender,
  tag: string,
  first: 0 | 1,
  watch: boolean,
): Promise<StaleRound> {
  const keys = Array.from({ length: STALE_KEYS }, (_, i) => `${tag}:${i}`)
  let version = 1
  const loader = (key: string) => async () => `${key}@v${version}`
  const subject = await contender.setup(tag)
  try {
    // A computes and stores every key (L1 and Redis); B reads them (from Redis into its L1).
    await fillAll(keys, (key) => subject.read(0, key, loader(key)))
    await fillAll(keys, (key) => subject.read(1, key, loader(key)))
    const countOld = async (instance: 0 | 1) => {
      let old = 0
      for (const key of keys)
        if ((await subject.read(instance, key, loader(key))) === `${key}@v1`) old++
      return old
    }
    let start = performance.now()
    const warm = await countOld(1)
    const warmReadMs = performance.now() - start
    if (warm !== STALE_KEYS) throw new Error(`B read ${warm} of ${STALE_KEYS} warm values`)
    if ((await countOld(0)) !== STALE_KEYS) throw new Error('A lost warm values')
    // The database changes, then the application invalidates the tag on A.
    version = 2
    start = performance.now()
    await subject.invalidate()
    const invalidated = performance.now()
    const oldFirst = await countOld(first)
    const firstReadMs = performance.now() - invalidated
    const oldSecond = await countOld(first === 0 ? 1 : 0)
    const round: StaleRound = {
      oldFirst,
      oldSecond,
      firstReadMs,
      invalidateMs: invalidated - start,
      warmReadMs,
    }
    if (!watch) return round
    // Watch B on one key (every 10 ms) until it reads the new value, then count all of B's.
    const probe = keys[0]!
    while (performance.now() - invalidated < WATCH_MS) {
      if ((await subject.read(1, probe, loader(probe))) !== `${probe}@v1`) {
        round.convergedMs = performance.now() - invalidated
        break
      }
      await sleep(10)
    }
    round.oldAfterWatch = await countOld(1)
    return round
  } finally {
    await subject.close()
  }
}

interface StaleRow {
  name: string
  crossInstance: string
  /** A reads first, then B; B is then watched. */
  aFirst: StaleRound
  /** B reads first, then A. */
  bFirst: StaleRound
}

async function runStale(): Promise<ProbeResult> {
  const started = Date.now()
  const rows: StaleRow[] = []
  for (const [i, contender] of staleContenders.entries()) {
    rows.push({
      name: contender.name,
      crossInstance: contender.crossInstance,
      aFirst: await staleRound(contender, `stale-a${i}`, 0, true),
      bFirst: await staleRound(contender, `stale-b${i}`, 1, false),
    })
  }
  console.log(`\n### Old values read right after an invalidation [tags-stale]`)
  console.log(
    `two instances (A, B) per library, each memory over the run's Redis, no bus; ${STALE_KEYS} keys with one tag, computed on A and read on B; then the data changes, A invalidates the tag, and right after it resolves every key is read (get-or-set, one at a time) on one instance, then on the other. Two rounds, each on fresh keys and a fresh tag: A reads first (then B, then B is re-read every 10 ms for up to ${WATCH_MS} ms), and B reads first (then A); ${((Date.now() - started) / 1000).toFixed(1)} s in all\n`,
  )
  const old = (n: number) => `${n} / ${STALE_KEYS}`
  printTable(
    [
      'library',
      'invalidate (one call)',
      'A first: old on A',
      'then old on B',
      'B reads the new value',
      'B first: old on B',
      'then old on A',
      `${STALE_KEYS} warm reads on B`,
      `A's ${STALE_KEYS} reads after`,
    ],
    rows.map(({ name, aFirst, bFirst }) => [
      name,
      formatDuration(aFirst.invalidateMs),
      old(aFirst.oldFirst),
      old(aFirst.oldSecond),
      aFirst.convergedMs === undefined
        ? `not within ${WATCH_MS} ms (${aFirst.oldAfterWatch} old)`
        : `after ${Math.round(aFirst.convergedMs)} ms (then ${aFirst.oldAfterWatch} old)`,
      old(bFirst.oldFirst),
      old(bFirst.oldSecond),
      `${aFirst.warmReadMs.toFixed(1)} ms`,
      `${aFirst.firstReadMs.toFixed(1)} ms`,
    ]),
  )
  for (const row of rows) console.log(`- ${row.name}, across instances: ${row.crossInstance}`)
  console.log('- cache-manager has no tags: not run.')
  const figures: ProbeResult['figures'] = {}
  for (const { name, aFirst, bFirst } of rows) {
    figures[`${name} A`] = Math.max(aFirst.oldFirst, bFirst.oldSecond)
    figures[`${name} B`] = Math.max(aFirst.oldSecond, bFirst.oldFirst)
    figures[`${name} B ms`] = aFirst.convergedMs
  }
  return { id: 'tags-stale', figures }
}

/** Tags: invalidation cost against entries, tagged hits, old values after an invalidation. */
export const tags: Suite = {
  name: 'tags',
  scenarios: (): (Scenario | Probe)[] => [
    { id: 'tags-invalidate', title: 'invalidateTags against entries', run: runInvalidate },
    getScenario(),
    { id: 'tags-stale', title: 'Old values right after an invalidation', run: runStale },
  ],
}
