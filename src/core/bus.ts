import type { InvalidationMode } from '../tags/tag-store.js'

/**
 * What one instance tells the others of a change: never values, only what moved. `keys` are
 * store keys (as the layers see them) deleted or overwritten; `tags` moved to `versions`
 * (`[hard, soft]` per tag, after the move; empty when each instance keeps its own tag state,
 * which then applies the move itself with `mode`); `clear` emptied the namespace. A message
 * with an `id` asks every receiver to answer with an `ack` once it applied it.
 */
export type BusMessage =
  | { kind: 'keys'; keys: readonly string[]; id?: string }
  | {
      kind: 'tags'
      tags: readonly string[]
      versions: readonly number[]
      mode: InvalidationMode
      id?: string
    }
  | { kind: 'clear'; id?: string }
  | { kind: 'ack'; id: string; to: string }

/** A message as received: with the id of the instance that sent it. */
export type ReceivedMessage = BusMessage & { sender: string }

/** What a cache hands its bus when it binds it. */
export interface BusLink {
  /** The cache's namespace: a bus carries one namespace's messages only. */
  readonly namespace: string
  /** This instance's id; messages from it are not handed back. */
  readonly sender: string
  /** A message from another instance. */
  receive(message: ReceivedMessage): void
  /** The bus lost its connection: messages may be missed until `up()`. */
  down(): void
  /** The bus is connected (again): whatever was missed must be assumed. */
  up(): void
  /** A handled failure, reported through the cache's `error` event. */
  report(operation: string, error: unknown): void
}

/**
 * Carries invalidations between the instances of one namespace (`createCache({ bus })`), so
 * that each instance's local layers (memory) stay coherent. Delivery is at most once: the
 * cache assumes it missed messages whenever the bus was down, and distrusts its local layers.
 */
export interface Bus {
  /** Called once by the cache; a bus serves one cache. */
  bind(link: BusLink): void
  /** Sends soon (batched); while disconnected, queued (bounded, de-duplicated). Never throws. */
  publish(message: BusMessage): void
  /** Sends now; rejects when it cannot (for acknowledged calls, which must know). */
  publishNow(message: BusMessage): Promise<void>
  /** How many instances listen now, this one included. */
  listeners(): Promise<number>
  /** Whether messages are being received now. */
  readonly connected: boolean
  /** Stops listening; closes only what the bus created. */
  close(): Promise<void>
}
