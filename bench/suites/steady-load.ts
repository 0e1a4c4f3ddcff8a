import { setTimeout as sleep } from 'node:timers/promises'
import { createCache, memoryLayer, type PolicyOptions } from 'layercache'
import { MAX_ENTRIES } from '../lib/anchors.js'
import { formatRatio, printTable } from '../lib/report.js'
import type { Probe, ProbeResult, Suite } from '../lib/suite.js'

// Steady load: WORKERS concurrent callers, each making wrap calls one after the other (with a
// 1 ms pause between calls), on keys drawn from a Zipf distribution over KEYS keys, against a
// memory-only layercache whose entries live TTL_MS. The factory takes FACTORY_MS. This is
// wall-clock by nature: entries really expire, and a call that comes after its key expired
// waits for the factory, unless an early refresh (earlyRefresh, XFetch) has recomputed the key
// in the background before. How many calls waited on a factory, with and without it?

const KEYS = 1000
/** Zipf exponent: the key of rank r (from 1) is drawn with probability proportional to r^-s. */
const ZIPF_S = 1.05
const TTL_MS = 300
const FACTORY_MS = 8
const WORKERS = 48
const THINK_MS = 1
/** Each segment: a warm-up (not counted), then the measured part. */
const WARMUP_MS = 750
const MEASURE_MS = 2250
/** Segments in this order (ABBA), so that a drift of the machine hits both alike. */
const ORDER = ['off', 'on', 'on', 'off'] as const
const SEED = 0x5eed
/** Key ranks (from 1) grouped for the report: the hot few, the warm, the long tail. */
const BUCKETS = [
  [1, 10],
  [11, 100],
  [101, KEYS],
] as const

type Mode = (typeof ORDER)[number]

/** mulberry32: a small seeded PRNG, so that every run draws the same key sequence per worker. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** The cumulative Zipf distribution over KEYS ranks. */
const cdf = (() => {
  const weights = Array.from({ length: KEYS }, (_, i) => (i + 1) ** -ZIPF_S)
  const total = weights.reduce((sum, w) => sum + w, 0)
  let sum = 0
  return Float64Array.from(weights, (w) => {
    sum += w / total
    return sum
  })
})()

/** The key index (rank - 1) for a uniform draw `u`: binary search of the CDF. */
function zipf(u: number): number {
  let lo = 0
  let hi = KEYS - 1
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (cdf[mid]! < u) lo = mid + 1
    else hi = mid
  }
  return lo
}

const bucketOf = (index: number) => BUCKETS.findIndex(([, last]) => index + 1 <= last)

const keys = Array.from({ length: KEYS }, (_, i) => `z${i}`)
new Set(keys) // hashed now (see makeKeys)

interface Segment {
  mode: Mode
  calls: number
  /** Calls that returned a value computed after the call started: they waited for it. */
  waited: number
  waitedByBucket: number[]
  callsByBucket: number[]
  errors: number
  firstError?: string
  /** Foreground computations ('miss' events) and background refreshes ('refresh' events). */
  misses: number
  refreshes: number
  factoryRuns: number
  /** ms per call, as measured. */
  latencies: Float64Array
}

/** A value as the factory makes it: when its computation ended (performance.now()). */
interface Computed {
  key: number
  computedAt: number
}

async function segment(mode: Mode, seed: number): Promise<Segment | { failed: string }> {
  // A policy field this build may not know yet: asserted, not checked against its types.
  const policy = (
    mode === 'on' ? { ttl: TTL_MS, earlyRefresh: true } : { ttl: TTL_MS }
  ) as PolicyOptions
  let cache: ReturnType<typeof createCache>
  try {
    cache = createCache({
      namespace: 'steady',
      layers: [memoryLayer({ maxEntries: MAX_ENTRIES })],
      policies: { default: policy },
    })
  } catch (error) {
    return { failed: error instanceof Error ? error.message : String(error) }
  }
  let measuring = false
  let factoryRuns = 0
  let misses = 0
  let refreshes = 0
  cache.on('miss', () => {
    if (measuring) misses++
  })
  cache.on('refresh', () => {
    if (measuring) refreshes++
  })
  // One factory per key, made once: a call allocates no closure.
  const factories = keys.map((_, key) => async (): Promise<Computed> => {
    if (measuring) factoryRuns++
    await sleep(FACTORY_MS)
    return { key, computedAt: performance.now() }
  })
  const result: Segment = {
    mode,
    calls: 0,
    waited: 0,
    waitedByBucket: BUCKETS.map(() => 0),
    callsByBucket: BUCKETS.map(() => 0),
    errors: 0,
    misses: 0,
    refreshes: 0,
    factoryRuns: 0,
    latencies: new Float64Array(0),
  }
  const latencies: number[] = []
  const start = performance.now()
  const measureFrom = start + WARMUP_MS
  const end = measureFrom + MEASURE_MS
  setTimeout(() => {
    measuring = true
  }, WARMUP_MS)

  const worker = async (w: number) => {
    const random = prng(seed + w)
    for (;;) {
      const index = zipf(random())
      const t0 = performance.now()
      if (t0 >= end) return
      const counted = t0 >= measureFrom
      try {
        const value = (await cache.wrap(keys[index]!, factories[index]!)) as Computed
        const t1 = performance.now()
        if (counted) {
          const bucket = bucketOf(index)
          result.calls++
          result.callsByBucket[bucket]!++
          latencies.push(t1 - t0)
          if (value.computedAt >= t0) {
            result.waited++
            result.waitedByBucket[bucket]!++
          }
        }
      } catch (error) {
        if (counted) result.errors++
        result.firstError ??= error instanceof Error ? error.message : String(error)
      }
      await sleep(THINK_MS)
    }
  }
  try {
    await Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)))
  } finally {
    measuring = false
    await cache.close()
  }
  Object.assign(result, { misses, refreshes, factoryRuns })
  result.latencies = Float64Array.from(latencies).sort()
  return result
}

/** Merges the segments of one mode. */
function merged(mode: Mode, segments: readonly Segment[]): Segment {
  const mine = segments.filter((s) => s.mode === mode)
  const sum = (pick: (s: Segment) => number) => mine.reduce((total, s) => total + pick(s), 0)
  const all = new Float64Array(sum((s) => s.latencies.length))
  let at = 0
  for (const s of mine) {
    all.set(s.latencies, at)
    at += s.latencies.length
  }
  const result: Segment = {
    mode,
    calls: sum((s) => s.calls),
    waited: sum((s) => s.waited),
    waitedByBucket: BUCKETS.map((_, b) => sum((s) => s.waitedByBucket[b]!)),
    callsByBucket: BUCKETS.map((_, b) => sum((s) => s.callsByBucket[b]!)),
    errors: sum((s) => s.errors),
    misses: sum((s) => s.misses),
    refreshes: sum((s) => s.refreshes),
    factoryRuns: sum((s) => s.factoryRuns),
    latencies: all.sort(),
  }
  const firstError = mine.find((s) => s.firstError !== undefined)?.firstError
  if (firstError !== undefined) result.firstError = firstError
  return result
}

const quantile = (sorted: Float64Array, q: number) =>
  sorted.length === 0
    ? Number.NaN
    : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
const formatLatency = (ms: number) =>
  Number.isNaN(ms) ? '-' : ms < 1 ? `${(ms * 1000).toFixed(1)} µs` : `${ms.toFixed(2)} ms`
const percent = (part: number, whole: number) =>
  whole === 0 ? '-' : `${((100 * part) / whole).toFixed(2)}%`
const LABELS: Record<Mode, string> = {
  off: 'layercache wrap, earlyRefresh off',
  on: 'layercache wrap, earlyRefresh: true',
}

async function run(): Promise<ProbeResult> {
  const started = Date.now()
  const segments: Segment[] = []
  const failures: Partial<Record<Mode, string>> = {}
  for (const [i, mode] of ORDER.entries()) {
    if (failures[mode] !== undefined) continue
    // Seeds by pair of segments (off+on, then on+off): both modes draw the same key sequences.
    const outcome = await segment(mode, SEED + 1000 * (i >> 1))
    if ('failed' in outcome) failures[mode] = outcome.failed
    else segments.push(outcome)
  }
  const results = (['off', 'on'] as const).map((mode) =>
    failures[mode] === undefined ? merged(mode, segments) : undefined,
  )

  console.log(`\n### Steady load: Zipf keys, short TTL, user-visible misses [steady-zipf]`)
  console.log(
    `${WORKERS} callers, each making awaited wrap calls one after the other with a ${THINK_MS} ms pause, on ${KEYS.toLocaleString('en-US')} keys drawn from a Zipf distribution (s = ${ZIPF_S}, seeded PRNG); memory layer only, ttl ${TTL_MS} ms, no jitter; factory ${FACTORY_MS} ms (a timer). Segments of ${WARMUP_MS} ms warm-up + ${MEASURE_MS} ms counted, in the order ${ORDER.join(', ')}, each on a fresh cache; figures summed over both segments of a mode; ${((Date.now() - started) / 1000).toFixed(1)} s in all\n`,
  )
  const header = [
    'configuration',
    'calls',
    'calls/s',
    'waited on a factory',
    'of calls',
    "foreground runs ('miss')",
    "background refreshes ('refresh')",
    'factory runs',
    'p50',
    'p99',
    'p99.9',
    'max',
  ]
  const seconds = (MEASURE_MS / 1000) * (ORDER.length / 2)
  const rows = (['off', 'on'] as const).map((mode, m) => {
    const r = results[m]
    if (!r) return header.map((_, i) => (i === 0 ? LABELS[mode] : i === 1 ? 'setup failed' : '-'))
    return [
      LABELS[mode],
      r.calls.toLocaleString('en-US'),
      Math.round(r.calls / seconds).toLocaleString('en-US'),
      r.waited.toLocaleString('en-US'),
      percent(r.waited, r.calls),
      r.misses.toLocaleString('en-US'),
      r.refreshes.toLocaleString('en-US'),
      r.factoryRuns.toLocaleString('en-US'),
      formatLatency(quantile(r.latencies, 0.5)),
      formatLatency(quantile(r.latencies, 0.99)),
      formatLatency(quantile(r.latencies, 0.999)),
      formatLatency(r.latencies[r.latencies.length - 1] ?? Number.NaN),
    ]
  })
  printTable(header, rows)
  for (const [m, mode] of (['off', 'on'] as const).entries()) {
    const r = results[m]
    if (failures[mode] !== undefined)
      console.log(`WARNING ${LABELS[mode]}: setup failed: ${failures[mode]!.slice(0, 200)}`)
    if (!r) continue
    const byBucket = BUCKETS.map(
      ([first, last], b) =>
        `ranks ${first}-${last}: ${r.waitedByBucket[b]!.toLocaleString('en-US')} of ${r.callsByBucket[b]!.toLocaleString('en-US')} (${percent(r.waitedByBucket[b]!, r.callsByBucket[b]!)})`,
    )
    console.log(`- ${LABELS[mode]}: calls that waited, by key rank: ${byBucket.join(', ')}`)
    if (r.errors > 0)
      console.log(`WARNING ${r.errors} calls failed: ${r.firstError?.slice(0, 160)}`)
  }
  const [off, on] = results
  const share = (r: Segment | undefined) => (r && r.calls > 0 ? r.waited / r.calls : undefined)
  const offShare = share(off)
  const onShare = share(on)
  if (offShare !== undefined && onShare !== undefined && offShare > 0)
    console.log(
      `- with earlyRefresh, ${formatRatio(onShare / offShare)} the share of calls that waited on a factory (${percent(on!.waited, on!.calls)} vs ${percent(off!.waited, off!.calls)})`,
    )
  if (off && on) {
    const inBucket = (r: Segment, b: number) => r.waitedByBucket[b]! / r.callsByBucket[b]!
    const ratios = BUCKETS.map(
      ([first, last], b) =>
        `ranks ${first}-${last} ${formatRatio(inBucket(on, b) / inBucket(off, b))}`,
    )
    console.log(
      `- share of calls that waited, earlyRefresh on / off, by key rank: ${ratios.join(', ')} (an early refresh can only start on a call made within a few compute times of the entry's expiry, so rarely requested keys gain little)`,
    )
  }
  console.log(
    `- "waited on a factory": the call returned a value that did not exist yet when the call started (the factory returned it later), so the call waited for that computation: its own miss, or one it joined.`,
  )
  return {
    id: 'steady-zipf',
    figures: {
      'waited off': offShare,
      'waited on': onShare,
      'p99 off': off ? quantile(off.latencies, 0.99) : undefined,
      'p99 on': on ? quantile(on.latencies, 0.99) : undefined,
      'errors off': off?.errors,
      'errors on': on?.errors,
    },
  }
}

/** Wall-clock steady load on Zipf-distributed keys with short TTLs, earlyRefresh off and on. */
export const steadyLoad: Suite = {
  name: 'steady-load',
  scenarios: (): Probe[] => [
    { id: 'steady-zipf', title: 'Steady load: Zipf keys, short TTL', run },
  ],
}
