import type { Entry } from './entry.js'

/**
 * One in-flight operation for a key. `invalidated` is set when a delete, clear or overwrite
 * of the key lands while the flight runs: its result may still be handed to the callers that
 * joined it, but must not be written to any layer (the "no stale set" rule).
 */
export interface Flight<T> {
  promise: Promise<T>
  invalidated: boolean
  /** When it started, on the cache's clock (set by `run`'s caller when it matters). */
  startedAt: number
  /**
   * What the flight served, for callers that ask where a value came from: the layer (-1 for
   * the factory), its envelope (`undefined` for a computed value not stored), and whether it
   * was served stale. Set before the flight settles.
   */
  servedLayer: number
  servedEntry: Entry | undefined
  servedStale: boolean
}

/** In-process single flight: concurrent callers of one key share one run. */
export class FlightTable<T> {
  readonly #flights = new Map<string, Flight<T>>()

  /** Joins the running flight for `key`, or starts one with `run`. */
  run(key: string, run: (flight: Flight<T>) => Promise<T>): Promise<T> {
    return this.start(key, run).promise
  }

  /** Like `run`, but answers the flight joined or started. */
  start(key: string, run: (flight: Flight<T>) => Promise<T>): Flight<T> {
    const running = this.#flights.get(key)
    if (running) return running
    const flight: Flight<T> = {
      promise: undefined as unknown as Promise<T>,
      invalidated: false,
      startedAt: 0,
      servedLayer: -1,
      servedEntry: undefined,
      servedStale: false,
    }
    this.#flights.set(key, flight)
    // then() rather than finally(): finally allocates two more closures and a promise per call.
    flight.promise = run(flight).then(
      (value) => {
        if (this.#flights.get(key) === flight) this.#flights.delete(key)
        return value
      },
      (error: unknown) => {
        if (this.#flights.get(key) === flight) this.#flights.delete(key)
        throw error
      },
    )
    return flight
  }

  /** The flight running for `key`, if any. */
  get(key: string): Flight<T> | undefined {
    return this.#flights.get(key)
  }

  /** Marks the flight for `key` invalidated and detaches it, so later callers start afresh. */
  invalidate(key: string): void {
    if (this.#flights.size === 0) return // the common case: nothing in flight
    const flight = this.#flights.get(key)
    if (flight) {
      flight.invalidated = true
      this.#flights.delete(key)
    }
  }

  /** Invalidates every running flight. */
  invalidateAll(): void {
    for (const flight of this.#flights.values()) flight.invalidated = true
    this.#flights.clear()
  }

  /** Settles when every flight running now has settled (errors ignored). */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.#flights.values()].map((f) => f.promise))
  }
}
