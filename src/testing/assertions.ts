// Minimal assertions for the layer suite, so that it runs under any test runner without
// depending on one (vitest, jest, mocha and node:test all accept thrown Errors).

/** Throws when `actual` and `expected` differ structurally (Map, Set, Date, typed arrays, bigint aware). */
export function assertEqual(actual: unknown, expected: unknown, what: string): void {
  const difference = differ(actual, expected, '')
  if (difference !== undefined) throw new Error(`layer suite: ${what}: ${difference}`)
}

/** Throws unless `condition` holds. */
export function assert(condition: unknown, what: string): asserts condition {
  if (!condition) throw new Error(`layer suite: ${what}`)
}

function show(value: unknown): string {
  if (typeof value === 'bigint') return `${value}n`
  if (value instanceof Date) return `Date(${value.toISOString()})`
  try {
    return JSON.stringify(value) ?? String(value)
  } catch {
    return Object.prototype.toString.call(value)
  }
}

function differ(a: unknown, b: unknown, path: string): string | undefined {
  const at = path || 'value'
  if (Object.is(a, b)) return undefined
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') {
    return `${at} is ${show(a)}, expected ${show(b)}`
  }
  const protoA = Object.getPrototypeOf(a)
  const protoB = Object.getPrototypeOf(b)
  const kindA = Object.prototype.toString.call(a)
  const kindB = Object.prototype.toString.call(b)
  // Buffers and Uint8Arrays are both bytes; anything else must keep its kind.
  const bothBytes = a instanceof Uint8Array && b instanceof Uint8Array
  if (kindA !== kindB && !bothBytes) return `${at} is a ${kindA}, expected a ${kindB}`
  if (a instanceof Date)
    return a.getTime() === (b as Date).getTime()
      ? undefined
      : `${at} is ${show(a)}, expected ${show(b)}`
  if (ArrayBuffer.isView(a)) {
    const x = a as unknown as ArrayLike<unknown>
    const y = b as unknown as ArrayLike<unknown>
    if (x.length !== y.length) return `${at} has length ${x.length}, expected ${y.length}`
    for (let i = 0; i < x.length; i++)
      if (!Object.is(x[i], y[i])) return `${at}[${i}] is ${show(x[i])}, expected ${show(y[i])}`
    return undefined
  }
  if (a instanceof Map) {
    const m = b as Map<unknown, unknown>
    if (a.size !== m.size) return `${at} has ${a.size} entries, expected ${m.size}`
    for (const [k, v] of m) {
      if (!a.has(k)) return `${at} lacks key ${show(k)}`
      const d = differ(a.get(k), v, `${at}.get(${show(k)})`)
      if (d) return d
    }
    return undefined
  }
  if (a instanceof Set) {
    const s = b as Set<unknown>
    if (a.size !== s.size) return `${at} has ${a.size} members, expected ${s.size}`
    for (const v of s) if (!a.has(v)) return `${at} lacks ${show(v)}`
    return undefined
  }
  if (protoA !== protoB && !(bothBytes || (isPlain(protoA) && isPlain(protoB)))) {
    return `${at} has another prototype than expected`
  }
  const keysA = Object.keys(a)
  const keysB = Object.keys(b as object)
  if (keysA.length !== keysB.length) return `${at} has keys ${show(keysA)}, expected ${show(keysB)}`
  for (const k of keysB) {
    if (!Object.hasOwn(a, k)) return `${at} lacks "${k}"`
    const d = differ(
      (a as Record<string, unknown>)[k],
      (b as Record<string, unknown>)[k],
      `${at}.${k}`,
    )
    if (d) return d
  }
  return undefined
}

function isPlain(proto: unknown): boolean {
  return proto === Object.prototype || proto === null
}
