/**
 * The source of time. Inject one to test TTLs without sleeping; all expiry decisions use it.
 * `now()` returns milliseconds and must never go backwards within a process.
 */
export interface Clock {
  /** Current time in milliseconds. */
  now(): number
}

/** The default clock: wall time in milliseconds. */
export const systemClock: Clock = { now: () => Date.now() }
