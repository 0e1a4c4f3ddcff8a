import type Keyv from 'keyv'
import type { ByteItem, ByteStore } from './byte-store.js'

/** Turns what a keyv store handed back into bytes (keyv 5 round-trips Buffers). */
function toBytes(value: unknown): Uint8Array | undefined {
  if (value === undefined || value === null) return undefined
  if (value instanceof Uint8Array) return value
  const json = value as { type?: unknown; data?: unknown }
  if (json.type === 'Buffer' && Array.isArray(json.data)) return Buffer.from(json.data as number[])
  // Not bytes at all: someone else's value, or a serializer that lost them. The codec
  // rejects these bytes as "not a layercache value", which makes the read a reported miss.
  return new Uint8Array(0)
}

function ttlOf(ttlMs: number): number | undefined {
  return ttlMs === Number.POSITIVE_INFINITY ? undefined : Math.max(1, Math.ceil(ttlMs))
}

/** Bytes in any keyv store, as Buffers. Clearing a namespace needs a store that can iterate. */
export class KeyvByteStore implements ByteStore {
  readonly keyv: Keyv

  constructor(keyv: Keyv) {
    this.keyv = keyv
  }

  get canClear(): boolean {
    return typeof this.keyv.iterator === 'function'
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    return toBytes(await this.keyv.get(key))
  }

  async getMany(keys: readonly string[]): Promise<(Uint8Array | undefined)[]> {
    if (keys.length === 0) return []
    const values = (await this.keyv.getMany([...keys])) as unknown[]
    return values.map(toBytes)
  }

  async set(item: ByteItem): Promise<unknown> {
    return await this.keyv.set(
      item.key,
      Buffer.from(item.bytes.buffer, item.bytes.byteOffset, item.bytes.byteLength),
      ttlOf(item.ttlMs),
    )
  }

  async setMany(items: readonly ByteItem[]): Promise<void> {
    await Promise.all(items.map((item) => this.set(item)))
  }

  async delete(keys: readonly string[]): Promise<void> {
    if (keys.length === 1) await this.keyv.delete(keys[0]!)
    else if (keys.length > 1) await this.keyv.delete([...keys])
  }

  /** Needs `canClear`; the layer checks it before calling. */
  async clear(prefix: string): Promise<void> {
    const doomed: string[] = []
    for await (const [key] of this.keyv.iterator!(undefined) as AsyncGenerator<[string, unknown]>) {
      if (typeof key === 'string' && key.startsWith(prefix)) doomed.push(key)
      if (doomed.length >= 500) await this.delete(doomed.splice(0))
    }
    await this.delete(doomed)
  }

  async close(): Promise<void> {
    // The keyv instance belongs to the caller, who created it: the layer never closes it.
  }
}
