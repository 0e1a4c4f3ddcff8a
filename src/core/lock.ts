/**
 * Leases that make one process compute a key while the others wait (`lock: 'distributed'`).
 * A layer whose store is shared between processes offers one (Redis does: `SET NX PX` with a
 * random token, released and extended only by the holder of the token).
 *
 * Keys are the cache's store keys; the lock store namespaces them itself, apart from the keys
 * of cached values. Every method may reject (store down, timeout): the cache then falls back
 * to its in-process single flight, so a lock outage never stops a computation.
 */
export interface LockStore {
  /** Takes the lease on `key` for `ttlMs` when no one holds it; true when taken. */
  acquire(key: string, token: string, ttlMs: number): Promise<boolean>
  /** Extends the lease to `ttlMs` from now if `token` still holds it; false when it was lost. */
  extend(key: string, token: string, ttlMs: number): Promise<boolean>
  /** Releases the lease if `token` holds it (a lease that expired and was taken is left alone). */
  release(key: string, token: string): Promise<void>
}
