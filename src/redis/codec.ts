import { Packr } from 'msgpackr'
import { type Entry, newEntry } from '../core/entry.js'
import { CacheError } from '../core/errors.js'

/** A synchronous byte compressor for values above a size threshold. */
export interface Compression {
  /** Compress only encodings larger than this many bytes. */
  threshold: number
  compress(bytes: Uint8Array): Uint8Array
  /** Must refuse (throw) to produce more than `maxBytes`, so a hostile input cannot exhaust memory. */
  decompress(bytes: Uint8Array, maxBytes: number): Uint8Array
}

/** Options of {@link Codec}. */
export interface CodecOptions {
  compression?: Compression
  /** Encoded values larger than this are refused with `E_VALUE_TOO_LARGE`. */
  maxValueBytes?: number
}

// The header: two magic bytes, the format version, and flags. Every stored value starts with
// it, so a later format can be introduced without ever misreading bytes written by this one.
const MAGIC_0 = 0x6c // 'l'
const MAGIC_1 = 0x63 // 'c'
/** The envelope format this codec writes; bytes of any other version decode as a miss. */
export const CODEC_VERSION = 1
const HEADER_BYTES = 4
const FLAG_DEFLATE = 0b1
const KNOWN_FLAGS = FLAG_DEFLATE
/** Decompressed values above this are refused when no `maxValueBytes` is set. */
const DEFAULT_MAX_INFLATED = 512 * 1024 * 1024

class UnencodableFunction extends Error {}

/**
 * Encodes entries for layers that store bytes. msgpackr with `moreTypes` keeps Date, Map (apart
 * from plain objects), Set, BigInt of any size, typed arrays, Buffers, `undefined` and `null`.
 * Records are inline in each value (no shared structures), so any process can decode them.
 * Functions, symbols and cyclic values are refused with `E_CODEC` naming the key.
 */
export class Codec {
  readonly #packr = new Packr({
    moreTypes: true,
    useBigIntExtension: true,
    writeFunction: () => {
      throw new UnencodableFunction('a function')
    },
  } as ConstructorParameters<typeof Packr>[0])
  readonly #compression: Compression | undefined
  readonly #maxValueBytes: number
  /** The most a compressed value may inflate to; encode refuses what decode would refuse. */
  readonly #maxInflated: number

  constructor(options: CodecOptions = {}) {
    this.#compression = options.compression
    this.#maxValueBytes = options.maxValueBytes ?? Number.POSITIVE_INFINITY
    this.#maxInflated = Math.min(DEFAULT_MAX_INFLATED, this.#maxValueBytes * 64)
  }

  /** The stored bytes for `entry`. Throws `E_CODEC` or `E_VALUE_TOO_LARGE`, naming `key`. */
  encode(entry: Entry, key: string): Uint8Array {
    let body: Uint8Array
    try {
      body = this.#packr.pack(toWire(entry))
    } catch (error) {
      const what =
        error instanceof UnencodableFunction
          ? 'it contains a function'
          : error instanceof RangeError && /call stack/i.test(error.message)
            ? 'it is cyclic or nested too deeply'
            : `it contains something msgpack cannot hold (${(error as Error).message})`
      throw new CacheError(
        'E_CODEC',
        `layercache: the value for key "${key}" cannot be stored: ${what}`,
        {
          cause: error,
        },
      )
    }
    let flags = 0
    const compress = this.#compression !== undefined && body.length > this.#compression.threshold
    if (compress && body.length > this.#maxInflated) {
      throw new CacheError(
        'E_VALUE_TOO_LARGE',
        `layercache: the value for key "${key}" is ${body.length} bytes before compression, above the ${this.#maxInflated} bytes a read may inflate (64 x maxValueBytes, at most 512 MB)`,
      )
    }
    if (compress) {
      body = this.#compression!.compress(body)
      flags |= FLAG_DEFLATE
    }
    if (body.length > this.#maxValueBytes) {
      throw new CacheError(
        'E_VALUE_TOO_LARGE',
        `layercache: the value for key "${key}" is ${body.length} bytes encoded, above maxValueBytes (${this.#maxValueBytes})`,
      )
    }
    const bytes = new Uint8Array(HEADER_BYTES + body.length)
    bytes[0] = MAGIC_0
    bytes[1] = MAGIC_1
    bytes[2] = CODEC_VERSION
    bytes[3] = flags
    bytes.set(body, HEADER_BYTES)
    return bytes
  }

  /** The entry in `bytes`. Throws `E_CODEC` (naming `key` and `layer`) for anything else. */
  decode(bytes: Uint8Array, key: string, layer: string): Entry {
    const fail = (why: string, cause?: unknown): never => {
      throw new CacheError(
        'E_CODEC',
        `layercache: the bytes under key "${key}" in layer "${layer}" are unreadable: ${why}`,
        {
          cause,
        },
      )
    }
    if (bytes.length < HEADER_BYTES || bytes[0] !== MAGIC_0 || bytes[1] !== MAGIC_1)
      fail('not a layercache value')
    if (bytes[2] !== CODEC_VERSION)
      fail(`format version ${bytes[2]}, this version reads ${CODEC_VERSION}`)
    const flags = bytes[3]!
    if ((flags & ~KNOWN_FLAGS) !== 0) fail(`unknown flags ${flags}`)
    let body = bytes.subarray(HEADER_BYTES)
    if (flags & FLAG_DEFLATE) {
      if (!this.#compression) fail('compressed, but this layer has no compression configured')
      try {
        body = this.#compression!.decompress(body, this.#maxInflated)
      } catch (error) {
        fail('decompression failed', error)
      }
    }
    let wire: unknown
    try {
      wire = this.#packr.unpack(body)
    } catch (error) {
      fail((error as Error).message, error)
    }
    const entry = fromWire(wire)
    if (!entry) fail('not an entry envelope')
    entry!.size = bytes.length
    return entry!
  }
}

// The wire form is an array, shorter than an object with field names: [value, createdAt,
// freshUntil, staleUntil, tags, computeMs, key, policy, tagVersions]. New fields are appended;
// readers ignore fields they do not know, so appending needs no version change.
function toWire(entry: Entry): unknown[] {
  const wire: unknown[] = [
    entry.value,
    entry.createdAt,
    entry.freshUntil,
    entry.staleUntil,
    entry.tags,
    entry.computeMs,
    entry.key,
    entry.policy,
    entry.tagVersions,
  ]
  while (wire.length > 4 && wire[wire.length - 1] === undefined) wire.pop()
  return wire
}

function fromWire(wire: unknown): Entry | undefined {
  if (!Array.isArray(wire) || wire.length < 4) return undefined
  const [value, createdAt, freshUntil, staleUntil, tags, computeMs, key, policy, tagVersions] = wire
  if (
    typeof createdAt !== 'number' ||
    typeof freshUntil !== 'number' ||
    typeof staleUntil !== 'number'
  )
    return undefined
  const entry = newEntry(value, createdAt, freshUntil, staleUntil)
  if (Array.isArray(tags)) entry.tags = tags as string[]
  if (typeof computeMs === 'number') entry.computeMs = computeMs
  if (typeof key === 'string') entry.key = key
  if (typeof policy === 'string') entry.policy = policy
  if (Array.isArray(tagVersions)) entry.tagVersions = tagVersions as number[]
  return entry
}
