/**
 * One call waiting for its deadline; `done` once it settled, so the deadline is moot. The queue
 * holds every call of the last timeout period: a settled call should drop what it captured.
 */
export interface Timed {
  /** Set by {@link Deadlines.add}. */
  deadline: number
  done: boolean
  /** Called once, when the deadline passed before the call settled (`done` is set first). */
  timedOut(): void
}

/** Settled entries at the head of the queue before it is compacted. */
const COMPACT_AT = 1_024

/**
 * Deadlines for calls that all get the same timeout: they expire in the order they were
 * added, so a FIFO queue and one timer (armed for the oldest) replace a timer per call, which
 * was a large share of a Redis write's CPU. A call that settles just marks itself `done`.
 */
export class Deadlines {
  readonly #timeoutMs: number
  #queue: Timed[] = []
  #head = 0
  #timer: ReturnType<typeof setTimeout> | undefined

  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs
  }

  /** Calls `pending.timedOut()` once `timeoutMs` passed, unless it is marked `done` first. */
  add(pending: Timed): void {
    pending.deadline = performance.now() + this.#timeoutMs
    this.#queue.push(pending)
    if (this.#timer === undefined) this.#arm(this.#timeoutMs)
  }

  #arm(delay: number): void {
    this.#timer = setTimeout(() => this.#fire(), Math.max(0, delay))
    // Never what keeps a process alive: a cache closed or abandoned must let it exit.
    ;(this.#timer as { unref?: () => void }).unref?.()
  }

  #fire(): void {
    this.#timer = undefined
    const now = performance.now()
    const queue = this.#queue
    while (this.#head < queue.length) {
      const pending = queue[this.#head]!
      if (!pending.done && pending.deadline > now) break
      this.#head++
      if (!pending.done) {
        pending.done = true
        pending.timedOut()
      }
    }
    if (this.#head >= COMPACT_AT || this.#head === queue.length) {
      this.#queue = queue.slice(this.#head)
      this.#head = 0
    }
    if (this.#head < this.#queue.length) this.#arm(this.#queue[this.#head]!.deadline - now)
  }
}
