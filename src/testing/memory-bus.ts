import type { Bus, BusLink, BusMessage } from '../core/bus.js'
import { CacheError } from '../core/errors.js'

/** Buses of one hub deliver to each other in this process; tests cut and restore them. */
export interface MemoryBusHub {
  /** A new bus on this hub, for one cache. */
  bus(): MemoryBus
  /** Messages sent through the hub so far (acks included). */
  readonly sent: number
}

/**
 * A bus whose messages go to the other buses of its hub, in this process. Delivery is at
 * most once, like Redis pub/sub: while a bus is `disconnect()`ed it neither sends nor
 * receives, and what it missed is lost; `reconnect()` tells its cache to resync.
 */
export class MemoryBus implements Bus {
  #link: BusLink | undefined
  #connected = true
  /** When false, this bus receives and applies messages but never answers acknowledgements. */
  answersAcks = true
  readonly #hub: Set<MemoryBus>
  readonly #count: () => void

  /** @internal Use {@link memoryBusHub}. */
  constructor(hub: Set<MemoryBus>, count: () => void) {
    this.#hub = hub
    this.#count = count
  }

  get connected(): boolean {
    return this.#connected
  }

  bind(link: BusLink): void {
    if (this.#link) {
      throw new CacheError(
        'E_INVALID_OPTION',
        'layercache: bus: this MemoryBus already serves a cache; create one per cache',
      )
    }
    this.#link = link
    this.#hub.add(this)
    queueMicrotask(() => {
      if (this.#connected) link.up()
    })
  }

  publish(message: BusMessage): void {
    if (!this.#connected || !this.#link) return // lost, as pub/sub loses it
    if (message.kind === 'ack' && !this.answersAcks) return
    const sender = this.#link.sender
    this.#count()
    for (const bus of this.#hub) {
      if (bus !== this) queueMicrotask(() => bus.#deliver({ ...message, sender }))
    }
  }

  async publishNow(message: BusMessage): Promise<void> {
    if (!this.#connected) {
      throw new CacheError('E_LAYER', 'layercache: this MemoryBus is disconnected')
    }
    this.publish(message)
  }

  async listeners(): Promise<number> {
    let count = 0
    for (const bus of this.#hub) if (bus.#connected) count++
    return count
  }

  /** Cuts this bus off: it misses every message until `reconnect()`. */
  disconnect(): void {
    if (!this.#connected) return
    this.#connected = false
    this.#link?.down()
  }

  /** Restores it; its cache is told it may have missed messages. */
  reconnect(): void {
    if (this.#connected) return
    this.#connected = true
    this.#link?.up()
  }

  async close(): Promise<void> {
    this.#hub.delete(this)
    this.#connected = false
  }

  #deliver(message: BusMessage & { sender: string }): void {
    if (this.#connected && this.#hub.has(this)) this.#link?.receive(message)
  }
}

/**
 * A hub of in-process buses, to test several cache instances (and their coherence) without
 * Redis: give each `createCache({ bus: hub.bus() })`.
 *
 * @example
 * const hub = memoryBusHub()
 * const a = createCache({ bus: hub.bus() })
 * const b = createCache({ bus: hub.bus() })
 */
export function memoryBusHub(): MemoryBusHub {
  const buses = new Set<MemoryBus>()
  let sent = 0
  return {
    bus: () =>
      new MemoryBus(buses, () => {
        sent++
      }),
    get sent() {
      return sent
    },
  }
}
