import type { Clock } from '../../src/index.js'

/** A clock that moves only when told to, so TTL tests never sleep. */
export interface ManualClock extends Clock {
  advance(ms: number): void
}

/** Creates a manual clock starting at `start` ms. */
export function manualClock(start = 1_000_000): ManualClock {
  let now = start
  return {
    now: () => now,
    advance(ms: number) {
      now += ms
    },
  }
}
