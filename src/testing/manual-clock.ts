import type { Clock } from '../core/clock.js'

/** A clock that moves only when told to, with timers that fire as it moves. */
export interface ManualClock extends Clock {
  /** Moves time forward by `ms`, firing every timer that falls due, in order. */
  advance(ms: number): void
  /** Timers scheduled and not yet fired or cancelled. */
  pending(): number
  schedule(callback: () => void, delayMs: number): () => void
}

interface Timer {
  at: number
  seq: number
  callback: () => void
}

/**
 * A clock for tests: TTLs, stale windows, factory timeouts and lock polling run on it, so a
 * test moves time with `advance()` and never sleeps. Timers fire synchronously inside
 * `advance()`; await a tick afterwards to let the promises they settle run.
 *
 * @example
 * const clock = manualClock()
 * const cache = createCache({ clock, policies: { default: { ttl: '1m', staleWhileRevalidate: '1m' } } })
 * clock.advance(61_000) // expired, served stale while one refresh runs
 */
export function manualClock(start = 1_000_000): ManualClock {
  let now = start
  let seq = 0
  let timers: Timer[] = []
  return {
    now: () => now,
    schedule(callback, delayMs) {
      const timer: Timer = { at: now + Math.max(0, delayMs), seq: seq++, callback }
      timers.push(timer)
      return () => {
        timers = timers.filter((t) => t !== timer)
      }
    },
    advance(ms) {
      const target = now + ms
      for (;;) {
        const due = timers
          .filter((t) => t.at <= target)
          .sort((a, b) => a.at - b.at || a.seq - b.seq)[0]
        if (!due) break
        timers = timers.filter((t) => t !== due)
        now = Math.max(now, due.at)
        due.callback()
      }
      now = target
    },
    pending: () => timers.length,
  }
}
