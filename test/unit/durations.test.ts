import { describe, expect, it } from 'vitest'
import { parseDuration, parseSize } from '../../src/core/durations.js'
import { CacheError } from '../../src/index.js'

describe('durations', () => {
  it.each([
    [0, 0],
    [1500, 1500],
    ['250ms', 250],
    ['90s', 90_000],
    ['1.5s', 1_500],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['7d', 604_800_000],
    ['2w', 1_209_600_000],
    ['1y', 31_536_000_000],
    [' 10 S ', 10_000],
  ])('parses %j as %d ms', (input, ms) => {
    expect(parseDuration(input, 'ttl')).toBe(ms)
  })

  it.each([
    [-1],
    [Number.NaN],
    ['5'],
    ['5 minutes'],
    ['-5s'],
    ['1e3s'],
    [''],
    [null],
    [{}],
    [Number.POSITIVE_INFINITY],
  ])('rejects %j naming the option', (input) => {
    expect(() => parseDuration(input, 'policies.x.ttl')).toThrow(CacheError)
    expect(() => parseDuration(input, 'policies.x.ttl')).toThrow('`policies.x.ttl`')
  })

  it('accepts Infinity only where allowed', () => {
    expect(parseDuration(Number.POSITIVE_INFINITY, 'ttl', true)).toBe(Number.POSITIVE_INFINITY)
  })
})

describe('sizes', () => {
  it.each([
    [1024, 1024],
    ['512b', 512],
    ['1kb', 1024],
    ['50mb', 50 * 1024 * 1024],
    ['1.5gb', 1.5 * 1024 ** 3],
  ])('parses %j as %d bytes', (input, bytes) => {
    expect(parseSize(input, 'maxBytes')).toBe(bytes)
  })

  it.each([[0], [-1], ['50 megs'], ['mb'], [Number.NaN]])('rejects %j', (input) => {
    expect(() => parseSize(input, 'memoryLayer.maxBytes')).toThrow('`memoryLayer.maxBytes`')
  })
})
