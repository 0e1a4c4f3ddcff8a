/**
 * The source of time. Inject one to test TTLs without sleeping; all expiry decisions use it.
 * `now()` returns milliseconds and must never go backwards within a process.
 */
export interface Clock {
  /** Current time in milliseconds. */
  now(): number
  /**
   * Calls `callback` once `delayMs` passed on this clock; returns a function that cancels it.
   * Used for factory timeouts and lock polling. Without it, real timers are used (which a test
   * clock cannot move): a test clock should implement it (see `manualClock` in
   * `layercache/testing`).
   */
  schedule?(callback: () => void, delayMs: number): () => void
}

/** The default clock: wall time in milliseconds. */
export const systemClock: Clock = { now: () => Date.now() }

/**
 * `clock.schedule`, or a real timer that never keeps the process alive (a cache closed or
 * abandoned must let it exit).
 */
export function scheduler(clock: Clock): (callback: () => void, delayMs: number) => () => void {
  if (typeof clock.schedule === 'function') return (callback, ms) => clock.schedule!(callback, ms)
  return (callback, delayMs) => {
    const timer = setTimeout(callback, Math.max(0, delayMs))
    ;(timer as { unref?: () => void }).unref?.()
    return () => clearTimeout(timer)
  }
}
