import { deflateRawSync } from 'node:zlib'
import { pack } from 'msgpackr'
import { describe, expect, it } from 'vitest'
import { CacheError, type Entry } from '../../src/index.js'
import { CODEC_VERSION, Codec, type Compression } from '../../src/redis/codec.js'
import { deflateCompression } from '../../src/redis/compression.js'

const KEY = 'user:42'
const LAYER = 'redis-a'

function envelope(value: unknown): Entry {
  return { value, createdAt: 1_000, freshUntil: 2_000, staleUntil: 3_000 }
}

/** Encodes with one codec and decodes with another instance, as two processes would. */
function roundTrip(value: unknown): unknown {
  const bytes = new Codec().encode(envelope(value), KEY)
  return new Codec().decode(bytes, KEY, LAYER).value
}

/** The CacheError thrown by `run`; fails the test when `run` returns or throws anything else. */
function thrown(run: () => unknown): CacheError {
  try {
    run()
  } catch (error) {
    expect(error).toBeInstanceOf(CacheError)
    return error as CacheError
  }
  throw new Error('expected a CacheError, but nothing was thrown')
}

function expectDecodeRefusal(bytes: Uint8Array, codec = new Codec()): CacheError {
  const error = thrown(() => codec.decode(bytes, KEY, LAYER))
  expect(error.code).toBe('E_CODEC')
  expect(error.message).toContain(`"${KEY}"`)
  expect(error.message).toContain(`"${LAYER}"`)
  return error
}

function expectEncodeRefusal(value: unknown): CacheError {
  const error = thrown(() => new Codec().encode(envelope(value), KEY))
  expect(error.code).toBe('E_CODEC')
  expect(error.message).toContain(`"${KEY}"`)
  return error
}

/** A valid header (this version, no flags) followed by `body`. */
function withHeader(body: Uint8Array, flags = 0): Uint8Array {
  const bytes = new Uint8Array(4 + body.length)
  bytes.set([0x6c, 0x63, CODEC_VERSION, flags])
  bytes.set(body, 4)
  return bytes
}

describe('codec: entry envelope', () => {
  it('round-trips every optional field, with another codec instance', () => {
    const entry: Entry = {
      value: { a: 1 },
      createdAt: 1_700_000_000_000,
      freshUntil: 1_700_000_060_000,
      staleUntil: 1_700_000_120_000,
      tags: ['user', 'user:42'],
      computeMs: 12.5,
      key: 'a-very-long-key',
      policy: 'analytics',
    }
    const bytes = new Codec().encode(entry, KEY)
    const decoded = new Codec().decode(bytes, KEY, LAYER)
    expect(decoded).toEqual({ ...entry, size: bytes.length })
  })

  it('leaves absent optional fields undefined', () => {
    // Every decoded entry has every field (one object shape for the hit path's sake).
    const bytes = new Codec().encode(envelope('v'), KEY)
    const decoded = new Codec().decode(bytes, KEY, LAYER)
    for (const field of ['tags', 'tagVersions', 'computeMs', 'key', 'policy'] as const) {
      expect(decoded[field]).toBeUndefined()
    }
    expect(decoded).toEqual({ ...envelope('v'), size: bytes.length })
  })

  it('keeps a later field when earlier optional ones are absent', () => {
    const entry: Entry = { ...envelope('v'), policy: 'p' }
    const decoded = new Codec().decode(new Codec().encode(entry, KEY), KEY, LAYER)
    expect(decoded.policy).toBe('p')
    expect(decoded.tags).toBeUndefined()
    expect(decoded.computeMs).toBeUndefined()
    expect(decoded.key).toBeUndefined()
  })

  it('keeps an empty tag list and a zero computeMs', () => {
    const entry: Entry = { ...envelope('v'), tags: [], computeMs: 0 }
    const decoded = new Codec().decode(new Codec().encode(entry, KEY), KEY, LAYER)
    expect(decoded.tags).toEqual([])
    expect(decoded.computeMs).toBe(0)
  })

  it('round-trips freshUntil and staleUntil of Infinity', () => {
    const entry: Entry = {
      value: 1,
      createdAt: 5,
      freshUntil: Number.POSITIVE_INFINITY,
      staleUntil: Number.POSITIVE_INFINITY,
    }
    const decoded = new Codec().decode(new Codec().encode(entry, KEY), KEY, LAYER)
    expect(decoded.freshUntil).toBe(Number.POSITIVE_INFINITY)
    expect(decoded.staleUntil).toBe(Number.POSITIVE_INFINITY)
    expect(decoded.createdAt).toBe(5)
  })

  it('sets size to the encoded byte length', () => {
    const codec = new Codec()
    for (const value of ['x', 'y'.repeat(1_000), { nested: [1, 2, 3] }]) {
      const bytes = codec.encode(envelope(value), KEY)
      expect(codec.decode(bytes, KEY, LAYER).size).toBe(bytes.length)
    }
  })

  it('writes no shared structures: a fresh codec reads the nth record of one shape', () => {
    const writer = new Codec()
    for (let i = 0; i < 5; i++) writer.encode(envelope({ id: i, name: `n${i}` }), KEY)
    const bytes = writer.encode(envelope({ id: 5, name: 'n5' }), KEY)
    expect(new Codec().decode(bytes, KEY, LAYER).value).toEqual({ id: 5, name: 'n5' })
  })
})

describe('codec: value types', () => {
  it('keeps Dates, before and after the epoch, to the millisecond', () => {
    for (const date of [
      new Date(0),
      new Date(1_700_000_000_123),
      new Date('1969-07-20T20:17:40.500Z'),
    ]) {
      const value = roundTrip(date)
      expect(value).toBeInstanceOf(Date)
      expect((value as Date).getTime()).toBe(date.getTime())
    }
  })

  it('keeps a Map as a Map, with non-string keys', () => {
    const objectKey = { x: 1 }
    const map = new Map<unknown, unknown>([
      [1, 'one'],
      ['s', 2],
      [objectKey, 3],
      [true, null],
    ])
    const value = roundTrip(map)
    expect(value).toBeInstanceOf(Map)
    expect(value).toEqual(map)
    expect((value as Map<unknown, unknown>).get(1)).toBe('one')
  })

  it('keeps a Map with only string keys, and an empty Map, as Maps', () => {
    const value = roundTrip(new Map([['a', 1]]))
    expect(value).toBeInstanceOf(Map)
    expect((value as Map<string, number>).get('a')).toBe(1)
    const empty = roundTrip(new Map())
    expect(empty).toBeInstanceOf(Map)
    expect((empty as Map<unknown, unknown>).size).toBe(0)
  })

  it('keeps a plain object as a plain object, not a Map', () => {
    for (const object of [{ a: 1, b: { c: 'd' } }, {}]) {
      const value = roundTrip(object)
      expect(value).not.toBeInstanceOf(Map)
      expect(Object.getPrototypeOf(value)).toBe(Object.prototype)
      expect(value).toEqual(object)
    }
  })

  it('keeps a Set', () => {
    const value = roundTrip(new Set([1, 'a', null]))
    expect(value).toBeInstanceOf(Set)
    expect([...(value as Set<unknown>)]).toEqual([1, 'a', null])
  })

  it('keeps BigInts beyond 64 bits, negative ones and small ones', () => {
    for (const big of [2n ** 100n + 3n, -(2n ** 100n) - 7n, 2n ** 64n, 2n ** 63n - 1n, -1n, 0n]) {
      const value = roundTrip(big)
      expect(typeof value).toBe('bigint')
      expect(value).toBe(big)
    }
  })

  it('keeps typed arrays with their type and contents', () => {
    const u8 = roundTrip(new Uint8Array([0, 1, 255]))
    expect(u8).toBeInstanceOf(Uint8Array)
    expect(Array.from(u8 as Uint8Array)).toEqual([0, 1, 255])

    const f64 = roundTrip(new Float64Array([1.5, -0, Number.NaN, Number.POSITIVE_INFINITY]))
    expect(f64).toBeInstanceOf(Float64Array)
    const floats = Array.from(f64 as Float64Array)
    expect(floats[0]).toBe(1.5)
    expect(Object.is(floats[1], -0)).toBe(true)
    expect(floats[2]).toBeNaN()
    expect(floats[3]).toBe(Number.POSITIVE_INFINITY)

    const i32 = roundTrip(new Int32Array([-1, 2 ** 31 - 1, -(2 ** 31)]))
    expect(i32).toBeInstanceOf(Int32Array)
    expect(Array.from(i32 as Int32Array)).toEqual([-1, 2 ** 31 - 1, -(2 ** 31)])
  })

  it('keeps the bytes of a Buffer, and a Buffer when the store hands back a Buffer', () => {
    const bytes = new Codec().encode(envelope({ b: Buffer.from('héllo') }), KEY)
    // Decoded from a plain Uint8Array: the same bytes.
    const fromBytes = (new Codec().decode(bytes, KEY, LAYER).value as { b: Uint8Array }).b
    expect(fromBytes).toBeInstanceOf(Uint8Array)
    expect(Buffer.from(fromBytes).toString('utf8')).toBe('héllo')
    // Decoded from a Buffer, as the redis and keyv stores deliver them: a Buffer.
    const fromBuffer = (new Codec().decode(Buffer.from(bytes), KEY, LAYER).value as { b: Buffer }).b
    expect(Buffer.isBuffer(fromBuffer)).toBe(true)
    expect(fromBuffer.toString('utf8')).toBe('héllo')
  })

  it('keeps undefined, at the top and nested in arrays and objects', () => {
    expect(roundTrip(undefined)).toBeUndefined()
    const array = roundTrip([undefined, 1, undefined]) as unknown[]
    expect(array).toHaveLength(3)
    expect(array[0]).toBeUndefined()
    expect(array[1]).toBe(1)
    expect(array[2]).toBeUndefined()
    const object = roundTrip({ a: undefined, b: 2 }) as Record<string, unknown>
    expect(Object.keys(object).sort()).toEqual(['a', 'b'])
    expect(object.a).toBeUndefined()
  })

  it('keeps null, at the top and nested', () => {
    expect(roundTrip(null)).toBeNull()
    expect(roundTrip({ a: null, b: [null] })).toEqual({ a: null, b: [null] })
  })

  it('keeps deeply nested mixed structures', () => {
    const value = {
      list: [1, 'two', { three: [3, new Date(3)] }],
      map: new Map<unknown, unknown>([[1, new Set([new Map([['x', { y: [null, true] }]])])]]),
      deep: { a: { b: { c: { d: { e: 'end' } } } } },
    }
    expect(roundTrip(value)).toEqual(value)
  })

  it('keeps unicode strings: accents, CJK, emoji sequences, NUL, empty', () => {
    for (const text of ['héllo wörld', '日本語テキスト', '🌍🚀👩‍👩‍👧', 'a\u0000b', '']) {
      expect(roundTrip(text)).toBe(text)
    }
  })

  it('stores -0 as 0 (msgpack has no negative zero integer)', () => {
    const value = roundTrip(-0)
    expect(value).toBe(0)
    expect(Object.is(value, -0)).toBe(false)
  })

  it('keeps NaN, Infinity and -Infinity', () => {
    expect(roundTrip(Number.NaN)).toBeNaN()
    expect(roundTrip(Number.POSITIVE_INFINITY)).toBe(Number.POSITIVE_INFINITY)
    expect(roundTrip(Number.NEGATIVE_INFINITY)).toBe(Number.NEGATIVE_INFINITY)
    expect(roundTrip([Number.NaN, 1.25])).toEqual([Number.NaN, 1.25])
  })
})

describe('codec: values it refuses to encode', () => {
  it('refuses a function, at the top and nested in an object, an array and a Map', () => {
    const fn = () => 1
    for (const value of [fn, { a: { b: fn } }, [1, [2, fn]], new Map([['k', fn]])]) {
      const error = expectEncodeRefusal(value)
      expect(error.message).toMatch(/function/)
    }
  })

  it('refuses a symbol, at the top and nested', () => {
    for (const value of [Symbol('s'), { a: Symbol('s') }, [Symbol('s')]]) {
      const error = expectEncodeRefusal(value)
      expect(error.message).toMatch(/symbol/)
    }
  })

  it('refuses a cyclic object and a cyclic array', () => {
    const object: Record<string, unknown> = { a: 1 }
    object.self = object
    const array: unknown[] = [1]
    array.push(array)
    for (const value of [object, array, { wrapper: object }]) {
      const error = expectEncodeRefusal(value)
      expect(error.message).toMatch(/cyclic/)
    }
  })

  it('keeps the underlying error as the cause', () => {
    const error = expectEncodeRefusal(Symbol('s'))
    expect(error.cause).toBeInstanceOf(Error)
  })
})

describe('codec: maxValueBytes', () => {
  // The limit applies to the body after the 4-byte header.
  const value = { text: 'x'.repeat(200) }
  const bodyBytes = new Codec().encode(envelope(value), KEY).length - 4

  it('encodes a value at or under the limit', () => {
    expect(() => new Codec({ maxValueBytes: bodyBytes }).encode(envelope(value), KEY)).not.toThrow()
    expect(() =>
      new Codec({ maxValueBytes: bodyBytes + 1 }).encode(envelope(value), KEY),
    ).not.toThrow()
  })

  it('refuses a value over it with E_VALUE_TOO_LARGE naming the key and both sizes', () => {
    const max = bodyBytes - 1
    const error = thrown(() => new Codec({ maxValueBytes: max }).encode(envelope(value), KEY))
    expect(error.code).toBe('E_VALUE_TOO_LARGE')
    expect(error.message).toContain(`"${KEY}"`)
    expect(error.message).toContain(`${bodyBytes} bytes`)
    expect(error.message).toContain(`(${max})`)
  })

  it('compares the compressed size when compression applies', () => {
    const big = 'a'.repeat(50_000) // under 64 x maxValueBytes, so a read may inflate it
    const codec = new Codec({ compression: deflateCompression(100), maxValueBytes: 1_000 })
    const bytes = codec.encode(envelope(big), KEY)
    expect(bytes.length).toBeLessThanOrEqual(1_004)
    expect(bytes[3]).toBe(1)
    expect(codec.decode(bytes, KEY, LAYER).value).toBe(big)
  })

  it('refuses at encode what a read would refuse to inflate (more than 64 x maxValueBytes)', () => {
    // 100 kB of one letter deflates to ~130 bytes, under maxValueBytes, but no read of it may
    // inflate past 64 kB: accepting it would store a value that can never be read back.
    const codec = new Codec({ compression: deflateCompression(100), maxValueBytes: 1_000 })
    let caught: unknown
    try {
      codec.encode(envelope('a'.repeat(100_000)), KEY)
    } catch (error) {
      caught = error
    }
    expect(caught).toBeInstanceOf(CacheError)
    expect((caught as CacheError).code).toBe('E_VALUE_TOO_LARGE')
    expect((caught as CacheError).message).toContain(`key "${KEY}"`)
  })
})

describe('codec: compression', () => {
  const value = { rows: Array.from({ length: 50 }, (_, i) => ({ id: i, label: 'repeated label' })) }
  const plainBodyBytes = new Codec().encode(envelope(value), KEY).length - 4

  it('compresses a body above the threshold, sets flag bit 0, and decodes it back', () => {
    const bytes = new Codec({ compression: deflateCompression(plainBodyBytes - 1) }).encode(
      envelope(value),
      KEY,
    )
    expect(bytes[3]).toBe(1)
    expect(bytes.length).toBeLessThan(plainBodyBytes + 4)
    const reader = new Codec({ compression: deflateCompression(1_000_000) })
    const decoded = reader.decode(bytes, KEY, LAYER)
    expect(decoded.value).toEqual(value)
    expect(decoded.size).toBe(bytes.length)
  })

  it('does not compress a body at or below the threshold', () => {
    for (const threshold of [plainBodyBytes, plainBodyBytes + 1]) {
      const codec = new Codec({ compression: deflateCompression(threshold) })
      const bytes = codec.encode(envelope(value), KEY)
      expect(bytes[3]).toBe(0)
      expect(bytes.length).toBe(plainBodyBytes + 4)
      expect(codec.decode(bytes, KEY, LAYER).value).toEqual(value)
    }
  })

  it('decodes uncompressed bytes with a codec that has compression', () => {
    const bytes = new Codec().encode(envelope(value), KEY)
    const reader = new Codec({ compression: deflateCompression(0) })
    expect(reader.decode(bytes, KEY, LAYER).value).toEqual(value)
  })

  it('refuses compressed bytes in a codec without compression', () => {
    const bytes = new Codec({ compression: deflateCompression(0) }).encode(envelope(value), KEY)
    expect(bytes[3]).toBe(1)
    const error = expectDecodeRefusal(bytes, new Codec())
    expect(error.message).toMatch(/compress/)
  })

  it('refuses compressed bytes that do not inflate', () => {
    const garbage = withHeader(new Uint8Array([0xff, 0xfe, 0xfd, 0xfc, 0xfb]), 1)
    expectDecodeRefusal(garbage, new Codec({ compression: deflateCompression(0) }))
  })

  it('bounds decompression: a deflate bomb is refused without inflating it all', () => {
    const bomb = withHeader(deflateRawSync(Buffer.alloc(50 * 1024 * 1024)), 1)
    expect(bomb.length).toBeLessThan(100_000)
    const inner = deflateCompression(0)
    const limits: number[] = []
    const outputs: number[] = []
    const spy: Compression = {
      threshold: inner.threshold,
      compress: inner.compress,
      decompress: (bytes, maxBytes) => {
        limits.push(maxBytes)
        const out = inner.decompress(bytes, maxBytes)
        outputs.push(out.length)
        return out
      },
    }
    const maxValueBytes = 1_024
    const error = expectDecodeRefusal(bomb, new Codec({ compression: spy, maxValueBytes }))
    expect(limits).toHaveLength(1)
    expect(limits[0]).toBeLessThanOrEqual(64 * maxValueBytes)
    expect(outputs).toEqual([]) // inflation stopped at the limit: nothing was produced
    expect((error.cause as NodeJS.ErrnoException).code).toBe('ERR_BUFFER_TOO_LARGE')
  })

  it('deflateCompression itself refuses to inflate past maxBytes', () => {
    const compression = deflateCompression(0)
    const compressed = compression.compress(new Uint8Array(10_000))
    expect(compression.decompress(compressed, 10_000)).toHaveLength(10_000)
    expect(() => compression.decompress(compressed, 9_999)).toThrow(RangeError)
    expect(compression.threshold).toBe(0)
  })
})

describe('codec: bytes it refuses to decode', () => {
  const valid = new Codec().encode(
    { ...envelope({ a: 'hello', n: [1, 2, 3], d: new Date(5) }), tags: ['t'] },
    KEY,
  )

  it('refuses empty bytes and bytes shorter than a header', () => {
    expectDecodeRefusal(new Uint8Array(0))
    expectDecodeRefusal(new Uint8Array([0x6c, 0x63, CODEC_VERSION]))
  })

  it('refuses garbage bytes', () => {
    expectDecodeRefusal(new Uint8Array([0xde, 0xad, 0xbe, 0xef, 0x00, 0x01]))
  })

  it('refuses the bytes of a JSON string', () => {
    const json = JSON.stringify({ value: 1, createdAt: 1, freshUntil: 2, staleUntil: 3 })
    expectDecodeRefusal(new TextEncoder().encode(json))
  })

  it('refuses a wrong magic in either byte', () => {
    for (const index of [0, 1]) {
      const bytes = valid.slice()
      bytes[index] = 0x00
      const error = expectDecodeRefusal(bytes)
      expect(error.message).toMatch(/not a layercache value/)
    }
  })

  it('refuses another format version', () => {
    for (const version of [CODEC_VERSION + 1, 0]) {
      const bytes = valid.slice()
      bytes[2] = version
      const error = expectDecodeRefusal(bytes)
      expect(error.message).toContain(`format version ${version}`)
    }
  })

  it('refuses unknown flag bits, alone or beside the deflate flag', () => {
    for (const flags of [0b10, 0b11, 0x80]) {
      const bytes = valid.slice()
      bytes[3] = flags
      const error = expectDecodeRefusal(bytes, new Codec({ compression: deflateCompression(0) }))
      expect(error.message).toMatch(/unknown flags/)
    }
  })

  it('refuses every truncation of a valid encoding', () => {
    expect(new Codec().decode(valid, KEY, LAYER).value).toEqual({
      a: 'hello',
      n: [1, 2, 3],
      d: new Date(5),
    })
    for (let length = 0; length < valid.length; length++) {
      expectDecodeRefusal(valid.subarray(0, length))
    }
  })

  it('refuses trailing bytes after a valid encoding', () => {
    const bytes = new Uint8Array(valid.length + 1)
    bytes.set(valid)
    expectDecodeRefusal(bytes)
  })

  it('refuses a valid header over msgpack that is not an entry envelope', () => {
    for (const notEnvelope of [
      { value: 1, createdAt: 1, freshUntil: 2, staleUntil: 3 },
      [1, 2],
      ['v', 'not a number', 2, 3],
      ['v', 1, null, 3],
      7,
      'text',
      null,
    ]) {
      const error = expectDecodeRefusal(withHeader(pack(notEnvelope)))
      expect(error.message).toMatch(/not an entry envelope/)
    }
  })

  it('accepts a valid header over a bare four-field array (the minimal envelope)', () => {
    const bytes = withHeader(pack(['v', 1, 2, 3]))
    const decoded = new Codec().decode(bytes, KEY, LAYER)
    expect(decoded).toEqual({
      value: 'v',
      createdAt: 1,
      freshUntil: 2,
      staleUntil: 3,
      size: bytes.length,
    })
  })
})

describe('codec: header layout', () => {
  it("starts with 'l', 'c', the version and the flags", () => {
    const bytes = new Codec().encode(envelope('v'), KEY)
    expect(bytes[0]).toBe('l'.charCodeAt(0))
    expect(bytes[1]).toBe('c'.charCodeAt(0))
    expect(bytes[2]).toBe(CODEC_VERSION)
    expect(bytes[3]).toBe(0)
    expect(Number.isInteger(CODEC_VERSION)).toBe(true)
    expect(CODEC_VERSION).toBeGreaterThanOrEqual(1)
    expect(CODEC_VERSION).toBeLessThanOrEqual(255)
  })

  it('writes the same header whatever the value', () => {
    for (const value of [undefined, new Map([[1, 2]]), 'x'.repeat(10_000)]) {
      const bytes = new Codec().encode(envelope(value), KEY)
      expect(Array.from(bytes.subarray(0, 4))).toEqual([0x6c, 0x63, CODEC_VERSION, 0])
    }
  })
})
