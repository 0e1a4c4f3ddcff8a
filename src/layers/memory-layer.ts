import QuickLRU from 'quick-lru'
import { type Clock, systemClock } from '../core/clock.js'
import { parseSize, type Size } from '../core/durations.js'
import type { Entry } from '../core/entry.js'
import { describe, invalidOption } from '../core/errors.js'
import { checkName, checkObject } from '../core/validate.js'
import { boundTwice, type Layer, type LayerContext } from './layer.js'
import { estimateSize } from './size-of.js'

/** Options of {@link memoryLayer}. */
export interface MemoryLayerOptions {
  /** Layer name, used in policies, stats and errors. Default `'memory'`. */
  name?: string
  /** At most this many entries are held. Default 10,000. */
  maxEntries?: number
  /** At most this many bytes (estimated, or from `sizeOf`) are held: `'50mb'` or a number. No bound by default. */
  maxBytes?: Size
  /** Size of a value in bytes, replacing the built-in estimate (only used with `maxBytes`). */
  sizeOf?: (value: unknown, key: string) => number
}

/** What the LRU holds for a key. `live` turns false once the record is replaced or removed. */
interface MemoryRecord {
  entry: Entry
  expiresAt: number
  size: number
  live: boolean
}

/** Per-record overhead counted against `maxBytes`: the record, the entry envelope and map slots. */
const RECORD_OVERHEAD = 160
const OPTION_KEYS: ReadonlySet<string> = new Set(['name', 'maxEntries', 'maxBytes', 'sizeOf'])

/**
 * The in-process layer: an LRU (quick-lru) of live values, bounded by entry count and bytes.
 *
 * quick-lru keeps two generations of entries; an entry read since the last generation turn is
 * kept over one that was not. On top of it this layer counts entries and bytes exactly and
 * evicts the oldest entries until both bounds hold. Expiry uses the cache's clock, so TTLs of
 * any length need no timer.
 */
export class MemoryLayer implements Layer {
  readonly name: string
  /** Private to this process: the bus keeps it coherent across instances. */
  readonly local = true
  readonly maxEntries: number
  readonly maxBytes: number
  readonly #sizeOf: ((value: unknown, key: string) => number) | undefined
  readonly #lru: QuickLRU<string, MemoryRecord>
  #clock: Clock = systemClock
  #bound = false
  #count = 0
  #bytes = 0

  constructor(options: MemoryLayerOptions = {}) {
    checkObject(options, 'memoryLayer options', OPTION_KEYS)
    const { name = 'memory', maxEntries = 10_000, maxBytes, sizeOf } = options
    checkName(name, 'memoryLayer.name')
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) {
      throw invalidOption(
        'memoryLayer.maxEntries',
        `must be a positive integer, got ${describe(maxEntries)}`,
      )
    }
    if (sizeOf !== undefined && typeof sizeOf !== 'function') {
      throw invalidOption('memoryLayer.sizeOf', `must be a function, got ${describe(sizeOf)}`)
    }
    this.name = name
    this.maxEntries = maxEntries
    this.maxBytes =
      maxBytes === undefined
        ? Number.POSITIVE_INFINITY
        : parseSize(maxBytes, 'memoryLayer.maxBytes')
    this.#sizeOf = sizeOf
    this.#lru = new QuickLRU<string, MemoryRecord>({
      maxSize: maxEntries,
      onEviction: (_key, record) => this.#forget(record),
    })
  }

  bind(context: LayerContext): void {
    if (this.#bound) throw boundTwice(this.name)
    this.#bound = true
    this.#clock = context.clock
  }

  /** Number of entries held (expired ones included until they are read or evicted). */
  get size(): number {
    return this.#count
  }

  /** Bytes accounted for the entries held (0 when `maxBytes` is not set). */
  get bytes(): number {
    return this.#bytes
  }

  get(key: string, now: number = this.#clock.now()): Entry | undefined {
    const record = this.#lru.get(key)
    if (record === undefined) return undefined
    if (record.expiresAt <= now) {
      this.#remove(key, record)
      return undefined
    }
    return record.entry
  }

  set(key: string, entry: Entry, ttlMs: number): void {
    const previous = this.#lru.peek(key)
    if (previous !== undefined) this.#remove(key, previous)
    const size = this.maxBytes === Number.POSITIVE_INFINITY ? 0 : this.#measure(key, entry)
    // An entry larger than the whole layer is not kept (the previous one is already gone).
    if (size > this.maxBytes) return
    const record: MemoryRecord = { entry, expiresAt: this.#clock.now() + ttlMs, size, live: true }
    this.#lru.set(key, record)
    this.#count++
    this.#bytes += size
    this.#enforceBounds()
  }

  delete(key: string): void {
    const record = this.#lru.peek(key)
    if (record !== undefined) this.#remove(key, record)
  }

  clear(): void {
    this.#lru.clear()
    this.#count = 0
    this.#bytes = 0
  }

  getMany(keys: readonly string[]): (Entry | undefined)[] {
    return keys.map((key) => this.get(key))
  }

  deleteMany(keys: readonly string[]): void {
    for (const key of keys) this.delete(key)
  }

  close(): void {
    this.clear()
  }

  #measure(key: string, entry: Entry): number {
    const valueSize = this.#sizeOf
      ? this.#sizeOf(entry.value, key)
      : (entry.size ?? estimateSize(entry.value))
    if (!Number.isFinite(valueSize) || valueSize < 0) {
      throw invalidOption(
        'memoryLayer.sizeOf',
        `returned ${describe(valueSize)} for key ${describe(key)}; expected bytes >= 0`,
      )
    }
    return RECORD_OVERHEAD + key.length * 2 + valueSize
  }

  #remove(key: string, record: MemoryRecord): void {
    this.#forget(record)
    this.#lru.delete(key)
  }

  #forget(record: MemoryRecord): void {
    if (!record.live) return
    record.live = false
    this.#count--
    this.#bytes -= record.size
  }

  #enforceBounds(): void {
    while (this.#count > this.maxEntries || this.#bytes > this.maxBytes) {
      const oldest = this.#lru.entriesAscending().next()
      if (oldest.done) return
      const [key, record] = oldest.value
      this.#remove(key, record)
    }
  }
}

/**
 * An in-process memory layer (quick-lru underneath), bounded by entries and, optionally, bytes.
 * Values are held live, not copied: treat what the cache returns as read-only.
 *
 * @example
 * createCache({ layers: [memoryLayer({ maxEntries: 10_000, maxBytes: '50mb' })] })
 */
export function memoryLayer(options?: MemoryLayerOptions): MemoryLayer {
  return new MemoryLayer(options)
}
