import { CacheError } from '../core/errors.js'

/**
 * A deterministic text for a method's arguments, for default keys: object keys are sorted
 * (their order never matters), and Date, Map, Set, BigInt, typed arrays, `undefined`, `NaN`
 * and `-0` each encode distinctly. Functions, symbols, class instances other than those, and
 * cycles are refused (`E_INVALID_KEY`, naming `where`): they have no stable identity, and
 * encoding them loosely would let two different calls share one cache entry.
 */
export function stableKey(values: readonly unknown[], where: string): string {
  const seen = new Set<object>()
  const encode = (value: unknown, path: string): string => {
    switch (typeof value) {
      case 'string':
        return JSON.stringify(value)
      case 'number':
        if (Object.is(value, -0)) return '-0'
        return Number.isFinite(value) ? String(value) : `#${String(value)}` // NaN, Infinity
      case 'boolean':
        return String(value)
      case 'bigint':
        return `${value}n`
      case 'undefined':
        return '#u'
      case 'function':
      case 'symbol':
        throw refused(where, path, `a ${typeof value}`)
    }
    if (value === null) return 'null'
    const object = value as object
    if (seen.has(object)) throw refused(where, path, 'a cycle')
    seen.add(object)
    try {
      if (Array.isArray(object))
        return `[${object.map((item, i) => encode(item, `${path}[${i}]`)).join(',')}]`
      if (object instanceof Date) {
        const time = object.getTime()
        return `#d${Number.isNaN(time) ? 'NaN' : object.toISOString()}`
      }
      if (object instanceof Map) {
        const entries = [...object].map(
          ([k, v]) => `${encode(k, `${path}<key>`)}:${encode(v, `${path}.get()`)}`,
        )
        return `#m{${entries.sort().join(',')}}`
      }
      if (object instanceof Set) {
        const items = [...object].map((item) => encode(item, `${path}<item>`))
        return `#s[${items.sort().join(',')}]`
      }
      if (ArrayBuffer.isView(object)) {
        const bytes = new Uint8Array(object.buffer, object.byteOffset, object.byteLength)
        return `#b${object.constructor.name}(${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')})`
      }
      const proto = Object.getPrototypeOf(object)
      if (proto !== Object.prototype && proto !== null) {
        throw refused(where, path, `an instance of ${proto?.constructor?.name ?? 'a class'}`)
      }
      if (Object.getOwnPropertySymbols(object).length > 0) {
        throw refused(where, path, 'an object with symbol keys')
      }
      const keys = Object.keys(object).sort()
      return `{${keys.map((k) => `${JSON.stringify(k)}:${encode((object as Record<string, unknown>)[k], `${path}.${k}`)}`).join(',')}}`
    } finally {
      seen.delete(object)
    }
  }
  return values.map((value, i) => encode(value, `argument ${i}`)).join(',')
}

function refused(where: string, path: string, what: string): CacheError {
  return new CacheError(
    'E_INVALID_KEY',
    `layercache: ${where} cannot build a default key: ${path} is ${what}; give the decorator a key function`,
  )
}
