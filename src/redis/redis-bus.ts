import { Packr } from 'msgpackr'
import type { Bus, BusLink, BusMessage } from '../core/bus.js'
import { type Duration, parseDuration } from '../core/durations.js'
import { CacheError, describe, invalidOption } from '../core/errors.js'
import { checkName, checkObject } from '../core/validate.js'
import { Deadlines, type Timed } from '../layers/deadlines.js'
import type { InvalidationMode } from '../tags/tag-store.js'
import { createFailFastClient } from './redis-layer.js'
import type { RedisClient } from './redis-store.js'

/** Options of {@link redisBus}: exactly one of `url` or `client`. */
export interface RedisBusOptions {
  /** `redis://host:port/db`; the bus creates, owns and closes both of its connections. */
  url?: string
  /**
   * A node-redis client (`createClient` of @keyv/redis or @redis/client), connected by its
   * owner: the bus publishes through it and never closes it. Its subscriber connection is a
   * `client.duplicate()`, which the bus owns and closes.
   */
  client?: RedisClient
  /** Base name of the Redis channel; the bus uses `${channel}:v1:${namespace}`. Default 'layercache'. */
  channel?: string
  /** How long a PUBLISH, a heartbeat PING or a PUBSUB NUMSUB may take. Default '100ms'. */
  timeout?: Duration
  /**
   * How often a PING checks that Redis answers (a frozen server keeps its connections open,
   * so only a PING that times out reveals it); a failed PING counts as the bus being down.
   * `false` turns it off. Default '1s'.
   */
  heartbeat?: Duration | false
  /**
   * Keys and tags kept for sending while Redis is unreachable. Beyond it the queue collapses
   * into one `clear` (every other instance drops its local layers), which is always safe.
   * Default 10_000.
   */
  maxQueue?: number
  /** How long connecting may take before it counts as failed (created clients only). Default '2s'. */
  connectTimeout?: Duration
}

const OPTION_KEYS: ReadonlySet<string> = new Set([
  'url',
  'client',
  'channel',
  'timeout',
  'heartbeat',
  'maxQueue',
  'connectTimeout',
])

/** The message format; part of the channel name, so two formats never meet on one channel. */
const FORMAT = 'v1'

/**
 * A bus over Redis pub/sub (`createCache({ bus: redisBus({ url }) })`): every instance of a
 * namespace tells the others which keys it deleted or overwrote, which tags it moved and when
 * it cleared, so that their memory layers stay coherent. Messages never carry values; they are
 * msgpack, batched per event-loop turn, on the channel `${channel}:v1:${namespace}`.
 *
 * It listens on a connection of its own (named `layercache-bus:${namespace}:${instance}` in CLIENT LIST)
 * and PINGs Redis every `heartbeat` through the publishing connection. When either fails the
 * cache is told the bus is down (messages may be missed); once both work again it is told the
 * bus is up, and drops what its local layers held. Sends that fail meanwhile are queued
 * (bounded, de-duplicated by key and tag) and sent on reconnection.
 *
 * @example
 * import { createCache, memoryLayer } from 'layercache'
 * import { redisBus, redisLayer } from 'layercache/redis'
 *
 * const url = 'redis://127.0.0.1:6379'
 * const cache = createCache({
 *   namespace: 'shop',
 *   layers: [memoryLayer(), redisLayer({ url })],
 *   bus: redisBus({ url }),
 * })
 */
export function redisBus(options: RedisBusOptions): RedisBus {
  checkObject(options, 'redisBus options', OPTION_KEYS)
  const { url, client, channel = 'layercache' } = options
  if ((url === undefined) === (client === undefined)) {
    throw invalidOption('redisBus', 'needs exactly one of `url` or `client`')
  }
  if (url !== undefined && (typeof url !== 'string' || !/^rediss?:\/\//.test(url))) {
    throw invalidOption('redisBus.url', `must be a redis:// or rediss:// URL, got ${describe(url)}`)
  }
  if (
    client !== undefined &&
    (typeof client !== 'object' ||
      client === null ||
      typeof client.duplicate !== 'function' ||
      typeof client.publish !== 'function')
  ) {
    throw invalidOption('redisBus.client', `must be a node-redis client, got ${describe(client)}`)
  }
  checkName(channel, 'redisBus.channel')
  const timeoutMs = parseDuration(options.timeout ?? '100ms', 'redisBus.timeout')
  if (timeoutMs <= 0) throw invalidOption('redisBus.timeout', 'must be above 0')
  const heartbeat = options.heartbeat ?? '1s'
  const heartbeatMs = heartbeat === false ? 0 : parseDuration(heartbeat, 'redisBus.heartbeat')
  if (heartbeat !== false && heartbeatMs <= 0)
    throw invalidOption('redisBus.heartbeat', 'must be above 0, or false')
  const maxQueue = options.maxQueue ?? 10_000
  if (!Number.isSafeInteger(maxQueue) || maxQueue < 1) {
    throw invalidOption(
      'redisBus.maxQueue',
      `must be a positive integer, got ${describe(maxQueue)}`,
    )
  }
  const connectTimeout = parseDuration(options.connectTimeout ?? '2s', 'redisBus.connectTimeout')
  return new RedisBus({
    client: client ?? createFailFastClient(url!, connectTimeout),
    owned: client === undefined,
    channel,
    timeoutMs,
    heartbeatMs,
    maxQueue,
  })
}

/** What {@link RedisBus} is built from (see {@link redisBus}). */
interface RedisBusParts {
  client: RedisClient
  owned: boolean
  channel: string
  timeoutMs: number
  heartbeatMs: number
  maxQueue: number
}

// The wire form: [sender, [message, ...]], each message a short array led by its kind.
const KEYS = 0
const TAGS = 1
const CLEAR = 2
const ACK = 3
const MODES: readonly InvalidationMode[] = ['expire', 'stale']

type Wire = unknown[]

/** A tag waiting in the queue: the highest versions seen (when the store is shared), and its mode. */
interface QueuedTag {
  hard: number
  soft: number
  versioned: boolean
  expire: boolean
}

type Health = 'initial' | 'up' | 'down'

/**
 * The bus {@link redisBus} returns. Each one serves one cache; `close()` (called by the
 * cache's `close()`) closes the connections it created, never a client it was given.
 *
 * @example
 * const bus = redisBus({ client, channel: 'shop-cache' }) // `client`: connected by its owner
 * const cache = createCache({ namespace: 'shop', layers: [memoryLayer(), redisLayer({ client })], bus })
 * bus.connected // true once subscribed and Redis answers PING
 * await cache.close() // closes the bus's subscriber connection, never `client`
 */
export class RedisBus implements Bus {
  /** The client it publishes through (created by the bus, or the one given). */
  readonly client: RedisClient
  readonly #owned: boolean
  readonly #base: string
  readonly #timeoutMs: number
  readonly #heartbeatMs: number
  readonly #maxQueue: number
  readonly #deadlines: Deadlines
  readonly #packr = new Packr({ useRecords: false, moreTypes: false })
  #link: BusLink | undefined
  #channel = ''
  #subscriber: RedisClient | undefined
  #subscriberName = ''
  #closing: Promise<void> | undefined
  #closed = false

  /** Health: subscribed and the subscriber ready; the last PING answered. */
  #health: Health = 'initial'
  #listening = false
  #subscribed = false
  #subscribing = false
  #answering = false
  #pinging = false
  #heartbeat: ReturnType<typeof setTimeout> | undefined
  /** Transition flags so that an outage is reported once, not once per retry. */
  #subscriberFailed = false
  #publisherFailed = false

  /** Callers of `ready()` waiting for the bus to be up. */
  readonly #waiters = new Set<() => void>()

  /** Messages of this event-loop turn, sent as one PUBLISH. */
  #batch: BusMessage[] = []
  #flushing: ReturnType<typeof setImmediate> | undefined

  /** What could not be sent: de-duplicated, bounded, collapsing into one clear. */
  #queuedClear = false
  readonly #queuedKeys = new Set<string>()
  readonly #queuedTags = new Map<string, QueuedTag>()

  readonly #onMessage = (bytes: Buffer) => this.#deliver(bytes)
  readonly #onPublisherError = (error: unknown) => {
    if (this.#closed || this.#publisherFailed) return
    this.#publisherFailed = true
    this.#report(error)
  }
  readonly #onPublisherReady = () => {
    this.#publisherFailed = false
    this.#beat()
  }

  /** @internal Use {@link redisBus}. */
  constructor(parts: RedisBusParts) {
    this.client = parts.client
    this.#owned = parts.owned
    this.#base = parts.channel
    this.#timeoutMs = parts.timeoutMs
    this.#heartbeatMs = parts.heartbeatMs
    this.#maxQueue = parts.maxQueue
    this.#deadlines = new Deadlines(parts.timeoutMs)
  }

  /** Whether messages are being received now (subscribed, and Redis answers PING). */
  get connected(): boolean {
    return this.#health === 'up'
  }

  /**
   * The connection the bus listens on: a `duplicate()` of {@link client}, named
   * `layercache-bus:${namespace}:${instance}` ({@link subscriberName}), created, owned and
   * closed by the bus. It exists once a cache bound the bus (`createCache({ bus })`); before that, reading it throws `E_INVALID_OPTION`.
   */
  get subscriber(): RedisClient {
    if (!this.#subscriber) {
      throw invalidOption('bus', 'has no subscriber yet: pass it to createCache({ bus }) first')
    }
    return this.#subscriber
  }

  /**
   * The name of the subscriber connection in CLIENT LIST: the namespace and the first 8
   * characters of this cache instance's id (empty until bound). Operators can find (or kill,
   * to test recovery) one instance's connection by it.
   */
  get subscriberName(): string {
    return this.#subscriberName
  }

  /** The channel this bus uses, `${channel}:v1:${namespace}` (empty until bound). */
  get channel(): string {
    return this.#channel
  }

  bind(link: BusLink): void {
    if (this.#link) {
      throw invalidOption(
        'bus',
        'this redisBus already belongs to another cache; create one per cache',
      )
    }
    if (this.#closed) throw new CacheError('E_CLOSED', 'layercache: redisBus bound after close()')
    this.#link = link
    this.#channel = `${this.#base}:${FORMAT}:${link.namespace}`
    // An unlistened 'error' would crash the process: both connections always have a listener.
    this.client.on('error', this.#onPublisherError)
    this.client.on('ready', this.#onPublisherReady)
    this.#subscriberName = `layercache-bus:${link.namespace}:${link.sender.slice(0, 8)}`
    const subscriber = this.client.duplicate({ name: this.#subscriberName })
    this.#subscriber = subscriber
    subscriber.on('error', (error: unknown) => this.#subscriberLost(error))
    subscriber.on('end', () => this.#subscriberLost(undefined))
    subscriber.on('reconnecting', () => this.#subscriberLost(undefined))
    subscriber.on('ready', () => this.#subscriberReady())
    if (this.#owned && !this.client.isOpen) {
      this.client.connect().catch((error: unknown) => this.#onPublisherError(error))
    }
    subscriber.connect().catch((error: unknown) => this.#subscriberLost(error))
    if (this.#heartbeatMs > 0) this.#armHeartbeat()
  }

  /**
   * Resolves once the bus is connected (subscribed, and Redis answers); rejects with
   * `E_TIMEOUT` after `timeout` (default '2s'). Until then messages may be missed, and
   * acknowledged calls are refused.
   *
   * @example
   * const cache = createCache({ namespace: 'shop', layers, bus })
   * await bus.ready()
   */
  ready(timeout: Duration = '2s'): Promise<void> {
    if (this.#health === 'up') return Promise.resolve()
    const ms = parseDuration(timeout, 'redisBus.ready timeout')
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(done)
        reject(new CacheError('E_TIMEOUT', `layercache: redisBus was not connected within ${ms}ms`))
      }, ms)
      ;(timer as { unref?: () => void }).unref?.()
      const done = () => {
        clearTimeout(timer)
        resolve()
      }
      this.#waiters.add(done)
    })
  }

  publish(message: BusMessage): void {
    if (this.#closed) return
    if (this.#health !== 'up') {
      this.#enqueue(message)
      return
    }
    this.#batch.push(message)
    this.#flushing ??= setImmediate(() => this.#flush())
  }

  publishNow(message: BusMessage): Promise<void> {
    if (this.#closed) {
      return Promise.reject(new CacheError('E_CLOSED', 'layercache: redisBus used after close()'))
    }
    // What this turn published goes first, in the same PUBLISH: order is kept.
    const messages = this.#takeBatch()
    messages.push(message)
    return this.#send(messages).catch((error: unknown) => {
      for (const failed of messages) this.#enqueue(failed)
      throw error
    })
  }

  async listeners(): Promise<number> {
    const counts = (await this.#timed('PUBSUB NUMSUB', () =>
      this.client.pubSubNumSub(this.#channel),
    )) as Record<string, number>
    return Number(counts[this.#channel] ?? 0)
  }

  /** Sends what is pending, stops the heartbeat, and closes the connections the bus created. */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown()
    return this.#closing
  }

  async #shutdown(): Promise<void> {
    if (this.#heartbeat !== undefined) clearTimeout(this.#heartbeat)
    this.#heartbeat = undefined
    // The last changes of the cache (its close waited for them) must still reach the others.
    const last = this.#takeBatch()
    if (this.#health === 'up' && this.#link) {
      last.push(...this.#takeQueue())
      if (last.length > 0) await this.#send(last).catch((error: unknown) => this.#report(error))
    }
    this.#closed = true
    this.#health = 'down'
    if (this.#owned) {
      // Its listeners stay (a late socket error must still be listened to); they do nothing now.
      if (this.client.isOpen) this.client.destroy()
    } else {
      this.client.off('error', this.#onPublisherError)
      this.client.off('ready', this.#onPublisherReady)
    }
    const subscriber = this.#subscriber
    if (subscriber?.isOpen) {
      if (subscriber.isReady && this.#subscribed) {
        await this.#timed('UNSUBSCRIBE', () =>
          subscriber.unsubscribe(this.#channel, this.#onMessage, true),
        ).catch(() => {})
      }
      if (subscriber.isOpen) subscriber.destroy()
    }
  }

  // --- health -------------------------------------------------------------------------------

  #subscriberReady(): void {
    if (this.#closed) return
    this.#subscriberFailed = false
    if (!this.#subscribed) {
      this.#subscribe()
      return
    }
    // node-redis re-subscribed before it called the connection ready.
    this.#listening = true
    // Redis may have come back with the subscriber first: check it answers before going up.
    if (!this.#answering) this.#beat()
    this.#update()
  }

  #subscriberLost(error: unknown): void {
    if (this.#closed) return
    if (error !== undefined && !this.#subscriberFailed) {
      this.#subscriberFailed = true
      this.#report(error)
    }
    // An error on a connection still ready (a reply it could not parse) may have cost a
    // message all the same: go down and up again, which makes the cache distrust its layers.
    const ready = this.#subscriber?.isReady === true
    this.#listening = false
    this.#update()
    if (ready && this.#subscribed) {
      this.#listening = true
      this.#update()
    }
  }

  #subscribe(): void {
    const subscriber = this.#subscriber
    if (this.#subscribing || this.#subscribed || !subscriber?.isReady) return
    this.#subscribing = true
    let subscribing: Promise<void>
    try {
      subscribing = subscriber.subscribe(this.#channel, this.#onMessage, true)
    } catch (error) {
      subscribing = Promise.reject(error)
    }
    subscribing.then(
      () => {
        this.#subscribing = false
        if (this.#closed) return
        this.#subscribed = true
        this.#listening = subscriber.isReady
        if (!this.#answering) this.#beat()
        this.#update()
      },
      (error: unknown) => {
        this.#subscribing = false
        if (this.#closed) return
        this.#report(error)
        // Tried again at the next 'ready' or heartbeat.
      },
    )
  }

  #armHeartbeat(): void {
    this.#heartbeat = setTimeout(() => {
      this.#heartbeat = undefined
      if (this.#closed) return
      if (!this.#subscribed) this.#subscribe()
      this.#beat()
      this.#armHeartbeat()
    }, this.#heartbeatMs)
    // Never what keeps a process alive.
    ;(this.#heartbeat as { unref?: () => void }).unref?.()
  }

  /** One PING through the publisher, unless the last one is still unanswered (Redis hangs). */
  #beat(): void {
    if (this.#closed || this.#pinging) return
    this.#pinging = true
    this.#timed(
      'PING',
      () => this.client.ping(),
      () => {
        this.#pinging = false
      },
    ).then(
      () => {
        if (this.#closed) return
        this.#answering = true
        this.#update()
        // Sends that failed while the bus looked up (a publisher-only blip) go now.
        if (this.#health === 'up' && this.#hasQueue()) this.#requeue()
      },
      (error: unknown) => {
        if (this.#closed) return
        if (this.#answering || this.#health === 'up') this.#report(error)
        this.#answering = false
        this.#update()
      },
    )
  }

  /** Tells the cache of transitions only: up → down, and (initial or down) → up. */
  #update(): void {
    if (this.#closed) return
    const up = this.#listening && (this.#answering || this.#heartbeatMs === 0)
    if (up && this.#health !== 'up') {
      this.#health = 'up'
      // What waited is sent first, ahead of anything published from now on.
      this.#requeue()
      this.#link!.up()
      for (const waiter of this.#waiters) waiter()
      this.#waiters.clear()
    } else if (!up && this.#health === 'up') {
      this.#health = 'down'
      this.#link!.down()
    }
  }

  // --- sending ------------------------------------------------------------------------------

  #flush(): void {
    this.#flushing = undefined
    const messages = this.#takeBatch()
    if (messages.length === 0 || this.#closed) return
    if (this.#health !== 'up') {
      for (const message of messages) this.#enqueue(message)
      return
    }
    this.#send(messages).catch((error: unknown) => {
      if (this.#closed) return
      if (this.#health === 'up') this.#report(error)
      for (const message of messages) this.#enqueue(message)
    })
  }

  /** The messages of this turn, `keys` without an id merged into one; the batch is emptied. */
  #takeBatch(): BusMessage[] {
    if (this.#flushing !== undefined) clearImmediate(this.#flushing)
    this.#flushing = undefined
    const batch = this.#batch
    if (batch.length === 0) return []
    this.#batch = []
    let keys: Set<string> | undefined
    let at = 0
    const out: BusMessage[] = []
    for (const message of batch) {
      if (message.kind === 'keys' && message.id === undefined) {
        if (!keys) {
          keys = new Set()
          at = out.length
          out.push(message) // replaced below by the merged message, at this first place
        }
        for (const key of message.keys) keys.add(key)
      } else out.push(message)
    }
    if (keys) out[at] = { kind: 'keys', keys: [...keys] }
    return out
  }

  #send(messages: readonly BusMessage[]): Promise<void> {
    let bytes: Buffer
    try {
      bytes = this.#packr.pack([this.#link!.sender, messages.map(toWire)])
    } catch (error) {
      return Promise.reject(error)
    }
    return this.#timed('PUBLISH', () => this.client.publish(this.#channel, bytes)).then(() => {})
  }

  #enqueue(message: BusMessage): void {
    if (this.#queuedClear) return
    switch (message.kind) {
      case 'ack':
        return // an answer is worth nothing later: the asker gave up or counts it missing
      case 'clear':
        this.#collapse()
        return
      case 'keys':
        for (const key of message.keys) this.#queuedKeys.add(key)
        break
      case 'tags':
        message.tags.forEach((tag, i) => {
          const hard = message.versions[2 * i]
          const soft = message.versions[2 * i + 1]
          const versioned = hard !== undefined && soft !== undefined
          const known = this.#queuedTags.get(tag)
          const expire = message.mode === 'expire'
          if (!known) {
            this.#queuedTags.set(tag, { hard: hard ?? 0, soft: soft ?? 0, versioned, expire })
            return
          }
          known.hard = Math.max(known.hard, hard ?? 0)
          known.soft = Math.max(known.soft, soft ?? 0)
          // Receivers sharing a tag store need versions; the others move the tag themselves.
          known.versioned ||= versioned
          known.expire ||= expire
        })
        break
    }
    if (this.#queuedKeys.size + this.#queuedTags.size > this.#maxQueue) this.#collapse()
  }

  /** Too much to remember: every instance drops its local layers instead, which is safe. */
  #collapse(): void {
    this.#queuedClear = true
    this.#queuedKeys.clear()
    this.#queuedTags.clear()
  }

  #hasQueue(): boolean {
    return this.#queuedClear || this.#queuedKeys.size > 0 || this.#queuedTags.size > 0
  }

  /** The queue as messages (emptied): a clear alone, or the keys and tags (grouped by mode). */
  #takeQueue(): BusMessage[] {
    if (this.#queuedClear) {
      this.#queuedClear = false
      return [{ kind: 'clear' }]
    }
    const out: BusMessage[] = []
    if (this.#queuedKeys.size > 0) out.push({ kind: 'keys', keys: [...this.#queuedKeys] })
    this.#queuedKeys.clear()
    const groups = new Map<string, { tags: string[]; versions: number[]; mode: InvalidationMode }>()
    for (const [tag, queued] of this.#queuedTags) {
      const mode: InvalidationMode = queued.expire ? 'expire' : 'stale'
      const group = `${mode}:${queued.versioned}`
      let found = groups.get(group)
      if (!found) {
        found = { tags: [], versions: [], mode }
        groups.set(group, found)
      }
      found.tags.push(tag)
      if (queued.versioned) found.versions.push(queued.hard, queued.soft)
    }
    this.#queuedTags.clear()
    for (const group of groups.values()) out.push({ kind: 'tags', ...group })
    return out
  }

  /** Moves the queue to the head of this turn's batch. */
  #requeue(): void {
    if (!this.#hasQueue()) return
    this.#batch = [...this.#takeQueue(), ...this.#batch]
    this.#flushing ??= setImmediate(() => this.#flush())
  }

  // --- receiving ----------------------------------------------------------------------------

  #deliver(bytes: Buffer): void {
    const link = this.#link
    if (this.#closed || !link) return
    let payload: unknown
    try {
      payload = this.#packr.unpack(bytes)
    } catch (error) {
      this.#malformed(bytes, (error as Error).message, error)
      return
    }
    if (!Array.isArray(payload) || typeof payload[0] !== 'string' || !Array.isArray(payload[1])) {
      this.#malformed(bytes, 'not [sender, messages]')
      return
    }
    const sender = payload[0]
    if (sender === link.sender) return
    const messages: BusMessage[] = []
    for (const wire of payload[1] as unknown[]) {
      const message = fromWire(wire)
      if (!message) {
        this.#malformed(bytes, 'a message of an unknown shape')
        return
      }
      messages.push(message)
    }
    for (const message of messages) {
      try {
        link.receive({ ...message, sender })
      } catch (error) {
        this.#report(error)
      }
    }
  }

  #malformed(bytes: Buffer, why: string, cause?: unknown): void {
    this.#report(
      new CacheError(
        'E_CODEC',
        `layercache: redisBus dropped a message of ${bytes.length} bytes on "${this.#channel}": ${why}`,
        { cause },
      ),
    )
  }

  // --- plumbing -----------------------------------------------------------------------------

  #report(error: unknown): void {
    this.#link?.report('bus', error)
  }

  /** `run()`, rejecting with `E_TIMEOUT` after the timeout; `settled` once `run()` settles. */
  #timed<T>(operation: string, run: () => Promise<T>, settled?: () => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const deadlines = this.#deadlines
      const call: Timed = {
        done: false,
        timedOut: () =>
          reject(
            new CacheError(
              'E_TIMEOUT',
              `layercache: redisBus ${operation} got no answer within ${this.#timeoutMs}ms`,
            ),
          ),
      }
      let running: Promise<T>
      try {
        running = run()
      } catch (error) {
        running = Promise.reject(error)
      }
      running.then(
        (value) => {
          settled?.()
          if (deadlines.settle(call)) resolve(value)
        },
        (error: unknown) => {
          settled?.()
          if (deadlines.settle(call)) reject(error)
        },
      )
      this.#deadlines.add(call)
    })
  }
}

function toWire(message: BusMessage): Wire {
  let wire: Wire
  switch (message.kind) {
    case 'keys':
      wire = [KEYS, message.keys]
      break
    case 'tags':
      wire = [TAGS, message.tags, message.versions, message.mode === 'stale' ? 1 : 0]
      break
    case 'clear':
      wire = [CLEAR]
      break
    case 'ack':
      return [ACK, message.id, message.to]
  }
  if (message.id !== undefined) wire.push(message.id)
  return wire
}

/** The message `wire` holds, or undefined for anything malformed. Trailing fields are ignored. */
function fromWire(wire: unknown): BusMessage | undefined {
  if (!Array.isArray(wire)) return undefined
  switch (wire[0]) {
    case KEYS: {
      const [, keys, id] = wire
      if (!isStrings(keys) || !isOptionalId(id)) return undefined
      return id === undefined ? { kind: 'keys', keys } : { kind: 'keys', keys, id }
    }
    case TAGS: {
      const [, tags, versions, mode, id] = wire
      if (!isStrings(tags) || !isOptionalId(id)) return undefined
      if (!Array.isArray(versions) || !versions.every((v) => Number.isFinite(v))) return undefined
      if (versions.length !== 0 && versions.length !== 2 * tags.length) return undefined
      const named = MODES[mode as number]
      if (named === undefined) return undefined
      const message = { kind: 'tags' as const, tags, versions: versions as number[], mode: named }
      return id === undefined ? message : { ...message, id }
    }
    case CLEAR: {
      const [, id] = wire
      if (!isOptionalId(id)) return undefined
      return id === undefined ? { kind: 'clear' } : { kind: 'clear', id }
    }
    case ACK: {
      const [, id, to] = wire
      if (typeof id !== 'string' || typeof to !== 'string') return undefined
      return { kind: 'ack', id, to }
    }
    default:
      return undefined
  }
}

function isStrings(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string')
}

function isOptionalId(value: unknown): value is string | undefined {
  return value === undefined || typeof value === 'string'
}
