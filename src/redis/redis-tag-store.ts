import {
  BUMP_GRACE_MS,
  type InvalidationMode,
  type TagStore,
  type TagVersion,
} from '../tags/tag-store.js'
import type { RedisClient } from './redis-store.js'

// Each tag is a hash {h, s} (hard and soft versions) moved by HINCRBY: Redis orders the
// moves, so no clock is ever compared. A move keeps the hash for the namespace's longest entry
// life (KEYS[1], published by extendLife when it grows; -1 for ever), at least a day: every
// entry that recorded an older version is gone before the hash is, so when it expires and
// reads 0 again, only newer entries can be fooled, into missing.

const FETCH = `local out = {}
for i, k in ipairs(KEYS) do
  local v = redis.call('HMGET', k, 'h', 's')
  out[#out + 1] = tonumber(v[1] or '0')
  out[#out + 1] = tonumber(v[2] or '0')
end
return out`

const BUMP = `local expire = ARGV[1] == 'expire'
local keep = tonumber(ARGV[2])
local life = tonumber(redis.call('GET', KEYS[1]) or '0')
if life < 0 then keep = -1 elseif life > keep then keep = life end
local out = {}
for i = 2, #KEYS do
  local k = KEYS[i]
  local h = expire and redis.call('HINCRBY', k, 'h', 1) or tonumber(redis.call('HGET', k, 'h') or '0')
  local s = redis.call('HINCRBY', k, 's', 1)
  if keep < 0 then redis.call('PERSIST', k) else redis.call('PEXPIRE', k, keep) end
  out[#out + 1] = h
  out[#out + 1] = s
end
return out`

const EXTEND_LIFE = `local life = tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current >= 0 and (life < 0 or life > current) then redis.call('SET', KEYS[1], life) end
return 0`

/** The key (after the tag prefix) of the namespace's longest entry life; '#' never starts a tag. */
const LIFE = '#life'

/** How a store call is made: through the layer's guard (timeout, breaker). */
export type Guarded = <T>(operation: string, run: () => Promise<T>) => Promise<T>

/**
 * Tag versions in Redis, shared by every instance of a namespace. Keys are
 * `${prefix}${namespace}#t:${tag}`: namespaces cannot contain '#', so tag keys never meet the
 * cache's own keys (`${prefix}${namespace}:${key}`), and `clear()` leaves them alone.
 * Each call is one script, one round trip, whatever the number of tags.
 */
export class RedisTagStore implements TagStore {
  readonly #client: RedisClient
  readonly #keyPrefix: () => string
  readonly #guarded: Guarded

  constructor(client: RedisClient, keyPrefix: () => string, guarded: Guarded) {
    this.#client = client
    this.#keyPrefix = keyPrefix
    this.#guarded = guarded
  }

  async fetch(tags: readonly string[]): Promise<TagVersion[]> {
    const flat = await this.#run('tags', FETCH, tags, [])
    return pairs(flat, tags.length)
  }

  async bump(tags: readonly string[], mode: InvalidationMode): Promise<TagVersion[]> {
    const flat = await this.#run('invalidate', BUMP, [LIFE, ...tags], [mode, String(BUMP_GRACE_MS)])
    return pairs(flat, tags.length)
  }

  async extendLife(lifeMs: number): Promise<void> {
    const life = lifeMs === Number.POSITIVE_INFINITY ? -1 : Math.max(1, Math.ceil(lifeMs))
    await this.#run('retain', EXTEND_LIFE, [LIFE], [String(life)])
  }

  #run(
    operation: string,
    script: string,
    names: readonly string[],
    args: string[],
  ): Promise<unknown> {
    const prefix = this.#keyPrefix()
    const keys = names.map((name) => prefix + name)
    return this.#guarded(
      operation,
      () => this.#client.eval(script, { keys, arguments: args }) as Promise<unknown>,
    )
  }
}

function pairs(flat: unknown, count: number): TagVersion[] {
  const numbers = Array.isArray(flat) ? flat.map(Number) : []
  return Array.from({ length: count }, (_, i) => ({
    hard: numbers[2 * i] ?? 0,
    soft: numbers[2 * i + 1] ?? 0,
  }))
}
