/**
 * One call waiting for its deadline; `done` once it settled, so the deadline is moot. A call
 * that settles also hands itself to {@link Deadlines.settle}, so nothing keeps it alive.
 */
export interface Timed {
  done: boolean
  /** Called once, when the deadline passed before the call settled (`done` is set first). */
  timedOut(): void
  /** @internal Where {@link Deadlines.add} put it. */
  bucket?: unknown
}

/** Calls added within one slice of time, timed out together. */
interface Bucket {
  readonly deadline: number
  readonly pending: Set<Timed>
}

/**
 * Deadlines for calls that all get the same timeout. Calls are grouped into buckets of a tenth
 * of the timeout, and one timer (armed for the oldest bucket) replaces a timer per call, which
 * was a large share of a Redis write's CPU. A call never times out early, and at most a tenth
 * of the timeout late. A call that settles leaves its bucket at once: only calls in flight are
 * held, so a busy layer does not keep a whole timeout period of settled calls alive (which
 * made them outlive young-generation collections and cost a write ~2 µs of GC).
 */
export class Deadlines {
  readonly #timeoutMs: number
  readonly #sliceMs: number
  readonly #buckets: Bucket[] = []
  #head = 0
  #timer: ReturnType<typeof setTimeout> | undefined

  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs
    this.#sliceMs = timeoutMs / 10
  }

  /** Calls `pending.timedOut()` once the timeout passed, unless it is settled first. */
  add(pending: Timed): void {
    const now = performance.now()
    let bucket = this.#buckets[this.#buckets.length - 1]
    // A bucket takes calls for one slice; its deadline is one timeout after the slice ends.
    if (bucket === undefined || bucket.deadline - this.#timeoutMs <= now) {
      bucket = { deadline: now + this.#sliceMs + this.#timeoutMs, pending: new Set() }
      this.#buckets.push(bucket)
    }
    bucket.pending.add(pending)
    if (this.#timer === undefined) this.#arm(bucket.deadline - now)
    pending.bucket = bucket
  }

  /** Marks `pending` settled; false when it already was (its timeout fired first). */
  settle(pending: Timed): boolean {
    if (pending.done) return false
    pending.done = true
    ;(pending.bucket as Bucket | undefined)?.pending.delete(pending)
    pending.bucket = undefined
    return true
  }

  #arm(delay: number): void {
    this.#timer = setTimeout(() => this.#fire(), Math.max(0, delay))
    // Never what keeps a process alive: a cache closed or abandoned must let it exit.
    ;(this.#timer as { unref?: () => void }).unref?.()
  }

  #fire(): void {
    this.#timer = undefined
    const now = performance.now()
    const buckets = this.#buckets
    while (this.#head < buckets.length && buckets[this.#head]!.deadline <= now) {
      const bucket = buckets[this.#head++]!
      for (const pending of bucket.pending) {
        if (pending.done) continue
        pending.done = true
        pending.timedOut()
      }
      bucket.pending.clear()
    }
    if (this.#head === buckets.length) {
      buckets.length = 0
      this.#head = 0
    } else if (this.#head >= 64) {
      buckets.splice(0, this.#head)
      this.#head = 0
    }
    if (this.#head < buckets.length) this.#arm(buckets[this.#head]!.deadline - now)
  }
}
