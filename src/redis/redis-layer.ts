import { createClient } from '@keyv/redis'
import { type Duration, parseDuration } from '../core/durations.js'
import { CacheError, describe, invalidOption } from '../core/errors.js'
import type { LockStore } from '../core/lock.js'
import { checkObject } from '../core/validate.js'
import type { LayerContext } from '../layers/layer.js'
import type { TagStore } from '../tags/tag-store.js'
import type { Codec } from './codec.js'
import { RedisLockStore } from './redis-lock-store.js'
import { RedisByteStore, type RedisClient } from './redis-store.js'
import { RedisTagStore } from './redis-tag-store.js'
import { RemoteLayer } from './remote-layer.js'
import {
  codecFor,
  nameOf,
  REMOTE_OPTION_KEYS,
  type RemoteLayerOptions,
  resilienceOf,
} from './remote-options.js'

/** Options of {@link redisLayer}: `url` or `client`, plus the remote layer options. */
export interface RedisLayerOptions extends RemoteLayerOptions {
  /** `redis://host:port/db`; the layer creates, owns and closes the client. */
  url?: string
  /** A node-redis client (`createClient` of @keyv/redis or @redis/client); the layer never closes it. */
  client?: RedisClient
  /** Prepended to every Redis key, before the namespace: `${prefix}${namespace}:${key}`. Default ''. */
  prefix?: string
  /** How long connecting may take before it counts as failed (created clients only). Default '2s'. */
  connectTimeout?: Duration
}

const OPTION_KEYS: ReadonlySet<string> = new Set([
  ...REMOTE_OPTION_KEYS,
  'url',
  'client',
  'prefix',
  'connectTimeout',
])

/**
 * A Redis layer, through the node-redis client that @keyv/redis uses. Created clients fail
 * fast: no offline queue (a command while disconnected fails at once), reconnect with capped
 * exponential backoff, a connect timeout. Every call has a timeout and a circuit breaker (see
 * {@link resilient}); values are msgpack in a versioned envelope; `clear()` removes only this
 * cache's namespace, by SCAN and UNLINK.
 *
 * @example
 * createCache({ namespace: 'shop', layers: [memoryLayer(), redisLayer({ url: 'redis://127.0.0.1:6379' })] })
 */
export function redisLayer(options: RedisLayerOptions): RedisLayer {
  checkObject(options, 'redisLayer options', OPTION_KEYS)
  const name = nameOf(options, 'redis', 'redisLayer')
  const { url, client, prefix = '' } = options
  if ((url === undefined) === (client === undefined)) {
    throw invalidOption('redisLayer', 'needs exactly one of `url` or `client`')
  }
  if (url !== undefined && (typeof url !== 'string' || !/^rediss?:\/\//.test(url))) {
    throw invalidOption(
      'redisLayer.url',
      `must be a redis:// or rediss:// URL, got ${describe(url)}`,
    )
  }
  if (
    client !== undefined &&
    (typeof client !== 'object' || client === null || typeof client.withTypeMapping !== 'function')
  ) {
    throw invalidOption('redisLayer.client', `must be a node-redis client, got ${describe(client)}`)
  }
  if (typeof prefix !== 'string')
    throw invalidOption('redisLayer.prefix', `must be a string, got ${describe(prefix)}`)
  const connectTimeout = parseDuration(options.connectTimeout ?? '2s', 'redisLayer.connectTimeout')
  const codec = codecFor(options, 'redisLayer')
  const owned = client === undefined
  const redis: RedisClient = client ?? createFailFastClient(url!, connectTimeout)
  return new RedisLayer(
    name,
    new RedisByteStore(redis, owned),
    codec,
    prefix,
    options,
    owned,
    connectTimeout,
  )
}

/** A node-redis client that fails fast: no offline queue, a connect timeout, capped reconnect backoff. */
export function createFailFastClient(url: string, connectTimeout: number): RedisClient {
  return createClient({
    url,
    disableOfflineQueue: true,
    socket: {
      connectTimeout,
      // Backoff doubling from 50 ms, capped at 2 s, with jitter so a fleet does not reconnect in step.
      reconnectStrategy: (retries: number) =>
        Math.min(50 * 2 ** retries, 2_000) + Math.floor(Math.random() * 50),
    },
  }) as unknown as RedisClient
}

/** The layer {@link redisLayer} returns, with its client exposed. */
export class RedisLayer extends RemoteLayer {
  /** The node-redis client (created by the layer, or the one given). */
  readonly client: RedisClient
  readonly #store: RedisByteStore
  readonly #owned: boolean
  readonly #connectTimeoutMs: number
  #tags: RedisTagStore | undefined
  #locks: RedisLockStore | undefined
  #report: LayerContext['report'] = () => {}
  #connected = false
  #connecting: Promise<void> | undefined

  constructor(
    name: string,
    store: RedisByteStore,
    codec: Codec,
    prefix: string,
    options: RedisLayerOptions,
    owned: boolean,
    connectTimeoutMs: number,
  ) {
    super(name, store, codec, prefix, resilienceOf(options))
    this.client = store.client
    this.#store = store
    this.#owned = owned
    this.#connectTimeoutMs = connectTimeoutMs
  }

  override bind(context: LayerContext): void {
    super.bind(context)
    this.#report = context.report
    this.#connected = this.client.isReady
    // node-redis emits 'error' for every failed (re)connection; an unlistened 'error' would
    // crash the process. Report only transitions, so an outage is one event, not a flood.
    this.client.on('error', (error: unknown) => {
      if (this.#connected) this.#report('connection', error)
      this.#connected = false
    })
    this.client.on('ready', () => {
      this.#connected = true
    })
    if (this.#owned && !this.client.isOpen) this.#connectOnce().catch(() => {})
  }

  /**
   * The tag versions of this namespace, kept in Redis for every instance: the cache keeps its
   * tag state here, so an invalidation by one instance reaches all of them.
   */
  tagStore(): TagStore {
    this.#tags ??= new RedisTagStore(
      this.client,
      () => `${this.keyPrefix.slice(0, -1)}#t:`,
      (operation, run) => this.guard.call(operation, undefined, run),
    )
    return this.#tags
  }

  /**
   * Leases of this namespace, kept in Redis for every instance, for `lock: 'distributed'`: one
   * instance computes a key while the others wait. A lease is `SET NX PX` on
   * `${prefix}${namespace}#l:${key}` with a random token, extended and released only by the
   * holder of that token; `clear()` leaves leases alone. Calls have the layer's timeout and
   * circuit breaker, and reject when Redis is down, slow or skipped.
   */
  lockStore(): LockStore {
    this.#locks ??= new RedisLockStore(
      this.client,
      () => `${this.keyPrefix.slice(0, -1)}#l:`,
      (operation, run) => this.guard.call(operation, undefined, run),
    )
    return this.#locks
  }

  /**
   * Resolves once the client is connected; rejects when the first attempt fails or when it is
   * not connected within `connectTimeout` (`E_TIMEOUT`; the client keeps retrying in the
   * background). The layer works without awaiting it (calls fail open until Redis answers);
   * await it at start-up to begin with a warm connection.
   */
  connect(): Promise<void> {
    if (this.client.isReady) return Promise.resolve()
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new CacheError(
            'E_TIMEOUT',
            `layercache: layer "${this.name}" did not connect within ${this.#connectTimeoutMs}ms`,
          ),
        )
      }, this.#connectTimeoutMs)
      ;(timer as { unref?: () => void }).unref?.()
      this.#connectOnce().then(
        () => {
          clearTimeout(timer)
          resolve()
        },
        (error: unknown) => {
          clearTimeout(timer)
          reject(error)
        },
      )
    })
  }

  #connectOnce(): Promise<void> {
    if (!this.#connecting) {
      const connecting = this.client.connect().then(
        () => undefined,
        (error: unknown) => {
          this.#connecting = undefined
          throw error
        },
      )
      this.#connecting = connecting
      // Commands sent while this first connection is under way wait for it (within the
      // layer's timeout) instead of failing at once for want of an offline queue.
      this.#store.waitFor(connecting)
    }
    return this.#connecting
  }
}
