import type { RedisClientType } from '@keyv/redis'
import type { ByteItem, ByteStore } from './byte-store.js'

/** RESP bulk strings ('$'), mapped to Buffers so that encoded bytes come back unchanged. */
const BLOB_STRING = 36

/** The node-redis client (as created by `createClient` of @keyv/redis or @redis/client). */
// biome-ignore lint/suspicious/noExplicitAny: accept clients with any modules, scripts, RESP version or type mapping
export type RedisClient = RedisClientType<any, any, any, any, any>

type BinaryClient = {
  get(key: string): Promise<Buffer | null>
  mGet(keys: string[]): Promise<(Buffer | null)[]>
}

/** Redis glob characters in a key prefix must not act as patterns in SCAN MATCH. */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&')
}

function ttlArgs(ttlMs: number): { PX: number } | undefined {
  return ttlMs === Number.POSITIVE_INFINITY ? undefined : { PX: Math.max(1, Math.ceil(ttlMs)) }
}

/**
 * Bytes in Redis through node-redis: GET/MGET as Buffers, SET with PX, pipelined batch writes,
 * UNLINK, and a namespace clear by SCAN + UNLINK in batches (never KEYS, never FLUSHDB).
 */
export class RedisByteStore implements ByteStore {
  readonly canClear = true
  readonly client: RedisClient
  readonly #binary: BinaryClient
  readonly #owned: boolean
  readonly #scanBatch: number
  #connecting: Promise<void> | undefined

  constructor(client: RedisClient, owned: boolean, scanBatch = 500) {
    this.client = client
    this.#binary = client.withTypeMapping({ [BLOB_STRING]: Buffer }) as unknown as BinaryClient
    this.#owned = owned
    this.#scanBatch = scanBatch
  }

  /** Makes commands wait for `connecting` (the first connection) while it is under way. */
  waitFor(connecting: Promise<void>): void {
    const settled = () => {
      if (this.#connecting === gate) this.#connecting = undefined
    }
    const gate: Promise<void> = connecting.then(settled, settled)
    this.#connecting = gate
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    if (this.#connecting) await this.#connecting
    return (await this.#binary.get(key)) ?? undefined
  }

  async getMany(keys: readonly string[]): Promise<(Uint8Array | undefined)[]> {
    if (keys.length === 0) return []
    if (this.#connecting) await this.#connecting
    const values = await this.#binary.mGet([...keys])
    return values.map((value) => value ?? undefined)
  }

  set(item: ByteItem): Promise<unknown> {
    if (this.#connecting) return this.#connecting.then(() => this.#set(item))
    return this.#set(item)
  }

  #set(item: ByteItem): Promise<unknown> {
    return this.client.set(item.key, toBuffer(item.bytes), ttlArgs(item.ttlMs))
  }

  async setMany(items: readonly ByteItem[]): Promise<void> {
    if (items.length === 0) return
    if (this.#connecting) await this.#connecting
    const pipeline = this.client.multi()
    for (const item of items) pipeline.set(item.key, toBuffer(item.bytes), ttlArgs(item.ttlMs))
    await pipeline.execAsPipeline()
  }

  async delete(keys: readonly string[]): Promise<void> {
    if (this.#connecting) await this.#connecting
    if (keys.length > 0) await this.client.unlink([...keys])
  }

  async clear(prefix: string): Promise<void> {
    if (this.#connecting) await this.#connecting
    const match = `${escapeGlob(prefix)}*`
    for await (const keys of this.client.scanIterator({ MATCH: match, COUNT: this.#scanBatch })) {
      const batch = keys as unknown as string[]
      if (batch.length > 0) await this.client.unlink(batch)
    }
  }

  async close(): Promise<void> {
    // Only a client this layer created is closed; the cache already waited for its own work,
    // so anything still pending belongs to a dead or frozen server: drop it, do not wait.
    if (this.#owned && this.client.isOpen) this.client.destroy()
  }
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}
