import type { Factory } from './compute.js'
import { type Duration, parseDuration } from './durations.js'
import { CacheError, describe, invalidOption } from './errors.js'
import { type Runtime, sleep } from './runtime.js'
import { checkObject } from './validate.js'

/** One key to warm: its factory, and the options of the `wrap` that stores it. */
export interface WarmItem<T = unknown> {
  key: string
  factory: Factory<T>
  /** Policy name and any `wrap` option (tags, ttl, staleWhileRevalidate, lock...). */
  policy?: string
  tags?: readonly string[]
  [option: string]: unknown
}

/** What to warm: items, or a function giving them (sync, async, or as an async iterable). */
export type WarmSource<T = unknown> =
  | Iterable<WarmItem<T>>
  | AsyncIterable<WarmItem<T>>
  | (() =>
      | Iterable<WarmItem<T>>
      | AsyncIterable<WarmItem<T>>
      | Promise<Iterable<WarmItem<T>> | AsyncIterable<WarmItem<T>>>)

/** Options of `cache.warm`. */
export interface WarmOptions {
  /** Items computed at once. Default 4. */
  concurrency?: number
  /** Stops starting items once aborted; the report says `cancelled`. */
  signal?: AbortSignal
  /** Attempts after the first failure of an item. Default 2. */
  retries?: number
  /** The wait before the first retry, doubling at each. Default '100ms'. */
  backoff?: Duration
}

/** What a warm-up did. */
export interface WarmReport {
  total: number
  succeeded: string[]
  failed: { key: string; error: unknown }[]
  /** Keys still fresh in some layer, not recomputed. */
  skipped: string[]
  /** Items not started because the signal aborted. */
  cancelled: number
  durationMs: number
}

/** What warming needs of the cache: its public reads and writes, and its runtime. */
export interface Warmable {
  has(key: string): Promise<boolean>
  wrap<T>(key: string, factory: Factory<T>, options?: object): Promise<T>
}

const OPTION_KEYS: ReadonlySet<string> = new Set(['concurrency', 'signal', 'retries', 'backoff'])

/**
 * Warms `source` with at most `concurrency` items at a time: each is skipped when still fresh,
 * else computed through `wrap` (single flight, locks and policies apply),
 * retried with exponential backoff on the cache's clock when its factory fails. One item's
 * failure never stops the others. Emits `warm` progress events.
 */
export async function warm(
  cache: Warmable,
  rt: Runtime,
  source: WarmSource,
  options: WarmOptions = {},
): Promise<WarmReport> {
  const { concurrency, retries, backoffMs } = checkWarmOptions(options)
  const { signal } = options
  const started = rt.clock.now()
  const items = await collect(typeof source === 'function' ? await source() : source)
  const report: WarmReport = {
    total: items.length,
    succeeded: [],
    failed: [],
    skipped: [],
    cancelled: 0,
    durationMs: 0,
  }
  let next = 0
  let done = 0
  const progress = (key: string, outcome: 'succeeded' | 'failed' | 'skipped') => {
    done++
    if (rt.events.has('warm')) rt.events.emit('warm', { key, outcome, done, total: items.length })
  }
  const failed = (key: string, error: unknown) => {
    report.failed.push({ key, error })
    rt.layerError(-1, 'warm', key, error)
    progress(key, 'failed')
  }
  const one = async (item: WarmItem) => {
    const key = String((item as { key?: unknown } | null)?.key)
    let wrapOptions: Record<string, unknown>
    let factory: WarmItem['factory']
    try {
      // A malformed item fails alone; the others go on.
      ;({ factory, ...wrapOptions } = checkItem(item))
      if (await cache.has(item.key)) {
        report.skipped.push(key)
        progress(key, 'skipped')
        return
      }
    } catch (error) {
      failed(key, error)
      return
    }
    for (let attempt = 0; ; attempt++) {
      try {
        await cache.wrap(item.key, factory, omitKey(wrapOptions))
        report.succeeded.push(key)
        progress(key, 'succeeded')
        return
      } catch (error) {
        if (attempt >= retries || signal?.aborted || isInputError(error)) {
          failed(key, error)
          return
        }
        await sleep(rt, backoffMs * 2 ** attempt, true) // awaited by the caller: keep the process up
        if (signal?.aborted) {
          failed(key, error) // aborted during the backoff: no further attempt
          return
        }
      }
    }
  }
  const worker = async () => {
    while (next < items.length) {
      if (signal?.aborted) return
      await one(items[next++]!)
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker))
  report.cancelled = items.length - done
  report.durationMs = rt.clock.now() - started
  return report
}

/** Validates the options of a warm-up; throws `E_INVALID_OPTION` naming the bad one. */
export function checkWarmOptions(options: WarmOptions): {
  concurrency: number
  retries: number
  backoffMs: number
} {
  checkObject(options, 'warm options', OPTION_KEYS)
  const concurrency = options.concurrency ?? 4
  if (!Number.isSafeInteger(concurrency) || concurrency < 1) {
    throw invalidOption(
      'warm options.concurrency',
      `must be a positive integer, got ${describe(concurrency)}`,
    )
  }
  const retries = options.retries ?? 2
  if (!Number.isSafeInteger(retries) || retries < 0) {
    throw invalidOption(
      'warm options.retries',
      `must be a non-negative integer, got ${describe(retries)}`,
    )
  }
  const backoffMs = parseDuration(options.backoff ?? '100ms', 'warm options.backoff')
  const signal = options.signal as unknown
  if (
    signal !== undefined &&
    (typeof signal !== 'object' || signal === null || !('aborted' in signal))
  ) {
    throw invalidOption('warm options.signal', `must be an AbortSignal, got ${describe(signal)}`)
  }
  return { concurrency, retries, backoffMs }
}

async function collect(items: Iterable<WarmItem> | AsyncIterable<WarmItem>): Promise<WarmItem[]> {
  if (
    items === null ||
    typeof items !== 'object' ||
    (typeof (items as Iterable<WarmItem>)[Symbol.iterator] !== 'function' &&
      typeof (items as AsyncIterable<WarmItem>)[Symbol.asyncIterator] !== 'function')
  ) {
    throw invalidOption(
      'warm items',
      `must be items or a function giving them, got ${describe(items)}`,
    )
  }
  const out: WarmItem[] = []
  for await (const item of items as AsyncIterable<WarmItem>) out.push(item)
  return out
}

/** Bad input is not retried: it fails the same way every time. */
function isInputError(error: unknown): boolean {
  const code = (error as CacheError | undefined)?.code
  return code === 'E_INVALID_OPTION' || code === 'E_INVALID_KEY' || code === 'E_CLOSED'
}

function omitKey(options: Record<string, unknown>): Record<string, unknown> {
  const { key: _key, ...rest } = options
  return rest
}

function checkItem(item: WarmItem): WarmItem {
  if (typeof item !== 'object' || item === null || typeof item.factory !== 'function') {
    throw new CacheError(
      'E_INVALID_OPTION',
      `layercache: option \`warm items\` must be { key, factory, ...wrap options }, got ${describe(item)}`,
    )
  }
  return item
}
