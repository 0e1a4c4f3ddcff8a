// Estimates of the heap a value holds. Not exact (V8 does not tell), but proportional and
// monotonic, which is what a byte bound needs. Only used on writes, never on reads.

const OBJECT_OVERHEAD = 32
const SLOT = 8
/** Beyond this many nodes the walk stops and the estimate is extrapolated, bounding the cost of a write. */
const MAX_NODES = 100_000

/** Estimated bytes held by `value`, including nested objects (each counted once). */
export function estimateSize(value: unknown): number {
  const seen = new Set<object>()
  const stack: unknown[] = [value]
  let bytes = 0
  let nodes = 0
  while (stack.length > 0) {
    const item = stack.pop()
    if (++nodes > MAX_NODES) return Math.ceil((bytes / nodes) * (nodes + stack.length))
    switch (typeof item) {
      case 'string':
        bytes += 16 + item.length * 2
        continue
      case 'number':
      case 'bigint':
        bytes += SLOT * (typeof item === 'bigint' ? 2 : 1)
        continue
      case 'boolean':
      case 'undefined':
      case 'symbol':
        bytes += SLOT
        continue
      case 'function':
        bytes += OBJECT_OVERHEAD
        continue
    }
    if (item === null || seen.has(item as object)) {
      bytes += SLOT
      continue
    }
    const obj = item as object
    seen.add(obj)
    bytes += OBJECT_OVERHEAD
    if (ArrayBuffer.isView(obj)) bytes += obj.byteLength
    else if (obj instanceof ArrayBuffer) bytes += obj.byteLength
    else if (obj instanceof Date) bytes += SLOT
    else if (Array.isArray(obj)) {
      bytes += obj.length * SLOT
      for (const element of obj) stack.push(element)
    } else if (obj instanceof Map) {
      for (const [k, v] of obj) {
        bytes += 2 * SLOT
        stack.push(k, v)
      }
    } else if (obj instanceof Set) {
      for (const v of obj) {
        bytes += SLOT
        stack.push(v)
      }
    } else {
      for (const key in obj) {
        bytes += SLOT + 16 + key.length * 2
        stack.push((obj as Record<string, unknown>)[key])
      }
    }
  }
  return bytes
}
