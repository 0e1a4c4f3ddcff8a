/**
 * Renders a cached value for a JSON response, for reading (not for round-tripping): `Date` ->
 * ISO string, `Map` -> array of `[key, value]` pairs, `Set` -> array, `bigint` -> decimal
 * string, bytes (typed arrays, `Buffer`, `ArrayBuffer`, `DataView`) -> `{ type, base64 }`,
 * `Error` -> `{ name, message }`, `RegExp` -> its source string, `undefined`, functions,
 * symbols and non-finite numbers -> `null`, a cycle -> `'[Circular]'`. Objects with `toJSON`
 * use it; other objects render their own enumerable properties.
 */
export function toJsonSafe(value: unknown): unknown {
  return render(value, new Set())
}

function render(value: unknown, ancestors: Set<object>): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value
    case 'number':
      return Number.isFinite(value) ? value : null
    case 'bigint':
      return value.toString()
    case 'undefined':
    case 'function':
    case 'symbol':
      return null
  }
  if (value === null) return null
  const object = value as object
  if (ancestors.has(object)) return '[Circular]'
  if (object instanceof Date) return Number.isNaN(object.getTime()) ? null : object.toISOString()
  if (object instanceof ArrayBuffer) return bytes('ArrayBuffer', new Uint8Array(object))
  if (ArrayBuffer.isView(object)) {
    const view = new Uint8Array(object.buffer, object.byteOffset, object.byteLength)
    return bytes(object.constructor?.name ?? 'Uint8Array', view)
  }
  if (object instanceof RegExp) return String(object)
  if (object instanceof Error) return { name: object.name, message: object.message }
  ancestors.add(object)
  try {
    if (object instanceof Map)
      return [...object].map(([k, v]) => [render(k, ancestors), render(v, ancestors)])
    if (object instanceof Set) return [...object].map((item) => render(item, ancestors))
    if (Array.isArray(object)) return object.map((item) => render(item, ancestors))
    const toJSON = (object as { toJSON?: unknown }).toJSON
    if (typeof toJSON === 'function') return render(toJSON.call(object), ancestors)
    // fromEntries defines own properties, so a key named `__proto__` stays a plain key.
    return Object.fromEntries(
      Object.entries(object).map(([k, v]) => [k, render(v, ancestors)] as const),
    )
  } finally {
    ancestors.delete(object)
  }
}

function bytes(type: string, view: Uint8Array): { type: string; base64: string } {
  // btoa takes a "binary string"; built in chunks, as spreading a large array overflows the stack.
  let binary = ''
  for (let i = 0; i < view.length; i += 0x8000) {
    binary += String.fromCharCode(...view.subarray(i, i + 0x8000))
  }
  return { type, base64: btoa(binary) }
}
