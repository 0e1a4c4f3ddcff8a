/** The payload of each event a cache emits. */
export interface CacheEvents {
  /** A layer served a fresh value. */
  hit: { key: string; layer: string }
  /** No layer had a fresh value. */
  miss: { key: string }
  /**
   * A value was served stale, because: its tags were invalidated in `stale` mode
   * (`invalidated`); it expired within `staleWhileRevalidate` (`revalidating`); its factory
   * failed or is backing off within `staleIfError` (`error`); its factory was slower than
   * `softTimeout` or `hardTimeout` (`timeout`).
   */
  stale: { key: string; layer: string; reason: StaleReason }
  /** A background refresh started: of a value served stale, or early (`earlyRefresh`). */
  refresh: { key: string; reason: 'stale' | 'early' }
  /** Tags (or a prefix, as the tag `#p:<prefix>`) were invalidated. */
  invalidate: { tags: readonly string[]; mode: 'expire' | 'stale' }
  /** A value was written through the layers. */
  set: { key: string }
  /** A key was deleted. */
  delete: { key: string }
  /** Every entry of the namespace was removed. */
  clear: Record<string, never>
  /** `warm` finished an item (`done` of `total`). */
  warm: { key: string; outcome: 'succeeded' | 'failed' | 'skipped'; done: number; total: number }
  /** Something failed and was handled (a layer error, a throwing listener). */
  error: { error: unknown; operation: string; key?: string; layer?: string }
}

/** Why a value was served stale (see the `stale` event). */
export type StaleReason = 'invalidated' | 'revalidating' | 'error' | 'timeout'

/** The name of an event a cache emits. */
export type CacheEventName = keyof CacheEvents

/** A listener for event `E`. */
export type CacheListener<E extends CacheEventName> = (payload: CacheEvents[E]) => void

/**
 * A tiny typed emitter with no dependency on `node:events`, so the core runs anywhere.
 * A throwing listener never breaks a cache operation: its error is re-emitted as `error`.
 */
export class Emitter {
  readonly #listeners: { [E in CacheEventName]?: CacheListener<E>[] } = {}
  readonly #onListenerError: () => void

  /** `onListenerError` is told of every listener that threw (the cache counts them). */
  constructor(onListenerError: () => void = () => {}) {
    this.#onListenerError = onListenerError
  }

  /** Whether anyone listens to `event`; callers check it before building a payload. */
  has(event: CacheEventName): boolean {
    return this.#listeners[event] !== undefined
  }

  on<E extends CacheEventName>(event: E, listener: CacheListener<E>): () => void {
    // Copy-on-write: an emit in progress keeps iterating the list it started with.
    const list = (this.#listeners[event] ?? []) as CacheListener<E>[]
    ;(this.#listeners as Record<string, unknown>)[event] = [...list, listener]
    return () => this.off(event, listener)
  }

  off<E extends CacheEventName>(event: E, listener: CacheListener<E>): void {
    const list = this.#listeners[event] as CacheListener<E>[] | undefined
    if (!list) return
    const next = list.filter((l) => l !== listener)
    if (next.length === 0) delete this.#listeners[event]
    else (this.#listeners as Record<string, unknown>)[event] = next
  }

  emit<E extends CacheEventName>(event: E, payload: CacheEvents[E]): void {
    const list = this.#listeners[event] as CacheListener<E>[] | undefined
    if (!list) return
    for (const listener of list) {
      try {
        listener(payload)
      } catch (error) {
        this.#onListenerError()
        // A failing error listener must not recurse; anything else becomes an error event.
        if (event !== 'error') this.emit('error', { error, operation: `listener:${event}` })
      }
    }
  }

  removeAll(): void {
    for (const event of Object.keys(this.#listeners)) {
      delete this.#listeners[event as CacheEventName]
    }
  }
}
