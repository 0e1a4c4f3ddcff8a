import { describe, invalidOption } from './errors.js'

/** True for `{}`-style objects (not arrays, not class instances other than Object). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

/** Throws unless `value` is a plain object whose keys are all in `known`; returns it. */
export function checkObject(
  value: unknown,
  path: string,
  known: ReadonlySet<string>,
): Record<string, unknown> {
  if (!isPlainObject(value)) throw invalidOption(path, `must be an object, got ${describe(value)}`)
  for (const key in value) {
    if (!known.has(key)) {
      throw invalidOption(
        `${path}.${key}`,
        `is not a known option (known: ${[...known].join(', ')})`,
      )
    }
  }
  return value
}

/** Throws unless `value` is a non-empty string. */
export function checkName(value: unknown, path: string): asserts value is string {
  if (typeof value !== 'string' || value.length === 0) {
    throw invalidOption(path, `must be a non-empty string, got ${describe(value)}`)
  }
}
