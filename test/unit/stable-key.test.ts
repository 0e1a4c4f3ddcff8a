import { describe, expect, it } from 'vitest'
import { stableKey } from '../../src/decorators/index.js'
import { CacheError } from '../../src/index.js'

const key = (...values: unknown[]) => stableKey(values, '@Cached on Test.method')

function refusal(...values: unknown[]): CacheError {
  let error: unknown
  try {
    key(...values)
  } catch (e) {
    error = e
  }
  expect(error).toBeInstanceOf(CacheError)
  expect((error as CacheError).code).toBe('E_INVALID_KEY')
  expect((error as CacheError).message).toContain(
    'layercache: @Cached on Test.method cannot build a default key',
  )
  return error as CacheError
}

/** Asserts that every list of arguments gets a key of its own. */
function expectDistinct(...calls: unknown[][]) {
  const keys = calls.map((values) => key(...values))
  expect(new Set(keys).size).toBe(calls.length)
}

describe('stableKey', () => {
  it('encodes primitives and lists readably', () => {
    expect(key('EUR', 'USD')).toBe('"EUR","USD"')
    expect(key(1, 2.5, true, null, [1, 'a'])).toBe('1,2.5,true,null,[1,"a"]')
    expect(key()).toBe('')
  })

  it('does not depend on the order of object keys, at any depth', () => {
    expect(key({ a: 1, b: { c: 2, d: [{ e: 3, f: 4 }] } })).toBe(
      key({ b: { d: [{ f: 4, e: 3 }], c: 2 }, a: 1 }),
    )
    expect(key({ b: 1, a: 2 })).toBe('{"a":2,"b":1}')
    expectDistinct([{ a: 1, b: 2 }], [{ a: 2, b: 1 }])
  })

  it('depends on the order of arguments and of array items', () => {
    expectDistinct(['a', 'b'], ['b', 'a'], [['a', 'b']], [['b', 'a']])
  })

  it('tells -0 from 0, and encodes NaN and the infinities', () => {
    expect(key(-0)).toBe('-0')
    expect(key(0)).toBe('0')
    expect(key(Number.NaN)).toBe(key(Number.NaN))
    expectDistinct([0], [-0], [Number.NaN], [Number.POSITIVE_INFINITY], [Number.NEGATIVE_INFINITY])
    expectDistinct([Number.NaN], ['NaN'], [null], [undefined])
  })

  it('tells undefined from null, from a missing argument, and from a missing property', () => {
    expect(key(undefined)).toBe('#u')
    expect(key(null)).toBe('null')
    expectDistinct([undefined], [null], [], ['#u'], ['undefined'])
    expectDistinct([{ a: undefined }], [{ a: null }], [{}])
    expectDistinct([[undefined]], [[null]], [[]])
  })

  it('tells numbers, BigInts and strings apart', () => {
    expect(key(10n)).toBe('10n')
    expectDistinct([1], [1n], ['1'], ['1n'], [true], ['true'])
  })

  it('encodes a Date by its time, and an invalid Date too', () => {
    const at = '2024-01-02T03:04:05.006Z'
    expect(key(new Date(at))).toBe(`#d${at}`)
    expect(key(new Date(at))).toBe(key(new Date(Date.parse(at))))
    expect(key(new Date(Number.NaN))).toBe('#dNaN')
    expectDistinct([new Date(at)], [at], [Date.parse(at)], [new Date(Date.parse(at) + 1)])
  })

  it('does not depend on the insertion order of Maps and Sets, at any depth', () => {
    const inner = (order: number[]) => new Set(order)
    const a = new Map<unknown, unknown>([
      ['x', inner([1, 2, 3])],
      [
        { k: 1, j: 2 },
        new Map([
          ['p', 1],
          ['q', 2],
        ]),
      ],
    ])
    const b = new Map<unknown, unknown>([
      [
        { j: 2, k: 1 },
        new Map([
          ['q', 2],
          ['p', 1],
        ]),
      ],
      ['x', inner([3, 1, 2])],
    ])
    expect(key(a)).toBe(key(b))
    expect(key(new Set(['b', 'a']))).toBe('#s["a","b"]')
    expect(
      key(
        new Map([
          ['b', 1],
          ['a', 2],
        ]),
      ),
    ).toBe('#m{"a":2,"b":1}')
  })

  it('tells Maps and Sets from objects and arrays with the same contents', () => {
    expectDistinct(
      [new Map([['a', 1]])],
      [{ a: 1 }],
      [[['a', 1]]],
      [new Set(['a'])],
      [['a']],
      [new Map()],
      [new Set()],
      [{}],
      [[]],
    )
    expectDistinct([new Map([['a', 1]])], [new Map([['a', 2]])], [new Map([['b', 1]])])
    expectDistinct([new Set([1])], [new Set(['1'])], [new Set([1, 2])])
  })

  it('encodes typed arrays by their type and bytes', () => {
    expect(key(new Uint8Array([1, 255]))).toBe('#bUint8Array(01ff)')
    expect(key(new Uint8Array([1, 2]))).toBe(key(new Uint8Array([1, 2])))
    const bytes = new Uint8Array([9, 1, 2, 9])
    expect(key(bytes.subarray(1, 3))).toBe(key(new Uint8Array([1, 2]))) // only the view's bytes
    expectDistinct(
      [new Uint8Array([1, 2])],
      [new Int8Array([1, 2])],
      [new Uint8Array([2, 1])],
      [new Uint16Array([1, 2])],
      [[1, 2]],
      [new Float64Array([0])],
      [new Float64Array([-0])],
    )
  })

  it('accepts an object reached twice (not a cycle) and objects without a prototype', () => {
    const shared = { a: 1 }
    expect(key({ x: shared, y: shared }, shared)).toBe('{"x":{"a":1},"y":{"a":1}},{"a":1}')
    const bare = Object.assign(Object.create(null) as object, { b: 2, a: 1 })
    expect(key(bare)).toBe(key({ a: 1, b: 2 }))
  })

  it('refuses cycles, naming where it met one', () => {
    const node: Record<string, unknown> = { id: 1 }
    node.self = node
    expect(refusal('x', node).message).toContain('argument 1.self is a cycle')
    const list: unknown[] = [1]
    list.push(list)
    expect(refusal(list).message).toContain('argument 0[1] is a cycle')
    const map = new Map<string, unknown>()
    map.set('me', map)
    expect(refusal(map).message).toContain('is a cycle')
  })

  it('refuses functions and symbols, naming their place', () => {
    expect(refusal(() => 1).message).toContain('argument 0 is a function')
    expect(refusal(1, { on: { click: () => 1 } }).message).toContain(
      'argument 1.on.click is a function',
    )
    expect(refusal(Symbol('s')).message).toContain('argument 0 is a symbol')
    expect(refusal([1, Symbol.iterator]).message).toContain('argument 0[1] is a symbol')
    expect(refusal(new Set([Symbol('s')])).message).toContain('argument 0<item> is a symbol')
  })

  it('refuses class instances other than Date, Map, Set and typed arrays', () => {
    class Point {
      constructor(
        readonly x: number,
        readonly y: number,
      ) {}
    }
    const error = refusal(new Point(1, 2))
    expect(error.message).toContain('argument 0 is an instance of Point')
    expect(error.message).toContain('give the decorator a key function')
    expect(refusal({ at: new URL('https://example.com') }).message).toContain(
      'argument 0.at is an instance of URL',
    )
    for (const value of [new ArrayBuffer(2), new String('s'), /re/, Promise.resolve(1)]) {
      refusal(value)
    }
  })
})
