import { describe, invalidOption } from '../core/errors.js'
import type { LockStore } from '../core/lock.js'
import type { RedisClient } from './redis-store.js'
import type { Guarded } from './redis-tag-store.js'

// A lease is one string key holding the holder's token, with a PX expiry. Taking it is SET NX
// PX; extending and releasing compare the token first, in one script, so a holder whose lease
// expired (and was taken by another) never extends or deletes the new holder's lease. Keys and
// tokens travel as KEYS and ARGV, never inside the script text.

const ACQUIRE = `if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return 0`

const EXTEND = `if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0`

const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`

/**
 * Leases in Redis for `lock: 'distributed'`, shared by every instance of a namespace. Keys are
 * `${prefix}${namespace}#l:${key}`: namespaces cannot contain '#', so lease keys never meet the
 * cache's own keys (`${prefix}${namespace}:${key}`) nor its tag keys (`#t:`), and `clear()`
 * leaves them alone. Each call is one script (one round trip) through the layer's guard, so it
 * has the layer's timeout and counts towards its circuit breaker.
 *
 * A call that times out may still have reached Redis: an acquire that "failed" that way can
 * leave a lease that no one will release, which then lasts only until its own `ttlMs`.
 */
export class RedisLockStore implements LockStore {
  readonly #client: RedisClient
  readonly #keyPrefix: () => string
  readonly #guarded: Guarded

  /**
   * @param client the layer's node-redis client
   * @param keyPrefix the prefix of lease keys, `${prefix}${namespace}#l:` (read at each call, as
   *   the namespace is known only once the layer is bound)
   * @param guarded runs a call through the layer's guard (timeout, circuit breaker)
   */
  constructor(client: RedisClient, keyPrefix: () => string, guarded: Guarded) {
    this.#client = client
    this.#keyPrefix = keyPrefix
    this.#guarded = guarded
  }

  /** Takes the lease on `key` for `ttlMs` (rounded up, at least 1 ms) when no one holds it. */
  async acquire(key: string, token: string, ttlMs: number): Promise<boolean> {
    const ttl = leaseMs(ttlMs)
    return (await this.#run('lock', ACQUIRE, key, [token, ttl])) === 1
  }

  /** Extends the lease to `ttlMs` from now if `token` still holds it; false when it was lost. */
  async extend(key: string, token: string, ttlMs: number): Promise<boolean> {
    const ttl = leaseMs(ttlMs)
    return (await this.#run('extendLock', EXTEND, key, [token, ttl])) === 1
  }

  /** Deletes the lease if `token` holds it; a lease held by another token is left alone. */
  async release(key: string, token: string): Promise<void> {
    await this.#run('unlock', RELEASE, key, [token])
  }

  #run(operation: string, script: string, key: string, args: string[]): Promise<number> {
    const keys = [this.#keyPrefix() + key]
    return this.#guarded(operation, async () =>
      Number(await this.#client.eval(script, { keys, arguments: args })),
    )
  }
}

/** A lease duration for PX/PEXPIRE: a whole number of ms, at least 1. */
function leaseMs(ttlMs: number): string {
  if (typeof ttlMs !== 'number' || !(ttlMs <= Number.MAX_SAFE_INTEGER)) {
    throw invalidOption('lock ttl', `must be a finite number of ms, got ${describe(ttlMs)}`)
  }
  return String(Math.max(1, Math.ceil(ttlMs)))
}
