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
 * `clock.schedule`, or a real timer that does not keep the process alive (a cache closed or
 * abandoned must let it exit), unless `keepAlive` (a wait that a caller awaits).
 */
export function scheduler(
  clock: Clock,
): (callback: () => void, delayMs: number, keepAlive?: boolean) => () => void {
  if (typeof clock.schedule === 'function') return (callback, ms) => clock.schedule!(callback, ms)
  return (callback, delayMs, keepAlive = false) => {
    const timer = setTimeout(callback, Math.max(0, delayMs))
    // A wait someone awaits with nothing else pending (a retry's backoff) keeps the process up.
    if (!keepAlive) (timer as { unref?: () => void }).unref?.()
    return () => clearTimeout(timer)
  }
}
