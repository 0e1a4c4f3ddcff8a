/**
 * Stable error codes. A code never changes meaning once released; messages may improve.
 *
 * - `E_INVALID_OPTION`: an option, a policy field or a call option is malformed.
 * - `E_INVALID_KEY`: a key is not a non-empty string.
 * - `E_LAYER`: a layer failed (thrown only where the user opted in).
 * - `E_FACTORY`: reserved for factory failures that the cache reports itself.
 * - `E_TIMEOUT`: an operation ran out of time.
 * - `E_CODEC`: a value could not be encoded or decoded.
 * - `E_VALUE_TOO_LARGE`: an encoded value exceeds a layer's `maxValueBytes`.
 * - `E_CIRCUIT_OPEN`: a layer is being skipped by its circuit breaker (counted, not emitted).
 * - `E_CLOSED`: the cache was used after `close()`.
 */
export type CacheErrorCode =
  | 'E_INVALID_OPTION'
  | 'E_INVALID_KEY'
  | 'E_LAYER'
  | 'E_FACTORY'
  | 'E_TIMEOUT'
  | 'E_CODEC'
  | 'E_VALUE_TOO_LARGE'
  | 'E_CIRCUIT_OPEN'
  | 'E_CLOSED'

/**
 * The one error class of layercache: `code` is stable, `message` names the option, key or layer.
 *
 * @example
 * try { createCache({ layers: [] }) } catch (e) {
 *   if (e instanceof CacheError && e.code === 'E_INVALID_OPTION') console.error(e.message)
 * }
 */
export class CacheError extends Error {
  /** Stable machine-readable code; switch on this, not on the message. */
  readonly code: CacheErrorCode

  constructor(code: CacheErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'CacheError'
    this.code = code
  }
}

/** Shorthand for the most common error: a malformed option, named by its path. */
export function invalidOption(path: string, problem: string): CacheError {
  return new CacheError('E_INVALID_OPTION', `layercache: option \`${path}\` ${problem}`)
}

/** Short human description of a received value, for error messages. */
export function describe(value: unknown): string {
  if (typeof value === 'string')
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value)
  if (value === null) return 'null'
  if (value === undefined) return 'undefined'
  if (Array.isArray(value))
    return value.length === 0 ? 'an empty array' : `an array of ${value.length}`
  return `a ${typeof value}`
}

/** Codes that describe the value rather than a layer's health: writes reject with them. */
export function isValueError(error: unknown): boolean {
  const code = (error as CacheError | undefined)?.code
  return code === 'E_CODEC' || code === 'E_VALUE_TOO_LARGE'
}

/** The message of anything thrown. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
