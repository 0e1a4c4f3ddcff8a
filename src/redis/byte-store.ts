/** One item of a batch write to a {@link ByteStore}. */
export interface ByteItem {
  key: string
  bytes: Uint8Array
  /** Positive; `Infinity` means no expiry. */
  ttlMs: number
}

/**
 * What a remote layer needs from a store: bytes in and out under full keys. The layer does
 * namespacing, encoding and resilience on top; a store only talks to its backend.
 */
export interface ByteStore {
  /** Whether `clear(prefix)` is supported (it needs a store that can list its keys). */
  readonly canClear: boolean
  get(key: string): Promise<Uint8Array | undefined>
  getMany(keys: readonly string[]): Promise<(Uint8Array | undefined)[]>
  set(item: ByteItem): Promise<unknown>
  setMany(items: readonly ByteItem[]): Promise<void>
  delete(keys: readonly string[]): Promise<void>
  /** Deletes every key starting with `prefix`, and nothing else. */
  clear(prefix: string): Promise<void>
  /** Releases what the store created. */
  close(): Promise<void>
}
