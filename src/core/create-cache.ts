import type { Layer } from '../layers/layer.js'
import { memoryLayer } from '../layers/memory-layer.js'
import { Prefixes, type PrefixOptions } from '../tags/tag-names.js'
import { TagState } from '../tags/tag-state.js'
import { MemoryTagStore } from '../tags/tag-store.js'
import type { Bus } from './bus.js'
import { Cache, noLeases } from './cache.js'
import { PolicyBook } from './call-options.js'
import { type Clock, systemClock } from './clock.js'
import { type Duration, parseDuration } from './durations.js'
import { describe, invalidOption } from './errors.js'
import { DEFAULT_MAX_KEY_LENGTH } from './keys.js'
import type { PolicyOptions } from './policies.js'
import { createRuntime, type Runtime } from './runtime.js'
import { checkObject } from './validate.js'

/** Options of {@link createCache}. Every field is optional. */
export interface CacheOptions {
  /**
   * Isolates this cache's keys in shared layers (apps, environments). Letters, digits, `_`,
   * `-` and `.`, at most 64 characters. Default `'default'`.
   */
  namespace?: string
  /** The layers, fastest first. Default: one `memoryLayer()`. */
  layers?: readonly Layer[]
  /** Named policies; `default` applies when a call names none, and every other policy extends it. */
  policies?: Record<string, PolicyOptions>
  /** Source of time for every expiry decision. Inject one in tests. Default: `Date.now`. */
  clock?: Clock
  /** Source of randomness in [0, 1) (TTL jitter, early refresh). Inject one in tests. Default: `Math.random`. */
  random?: () => number
  /** Keys longer than this are stored under a collision-checked hash. Default 200, minimum 32. */
  maxKeyLength?: number
  /**
   * When true, `set`, `delete`, `deleteMany` and `clear` reject with `E_LAYER` if a layer failed
   * (after writing every layer they could). Default false: failures are counted and emitted,
   * and the call succeeds on the layers that answered. Reads and `wrap` always fail open.
   */
  throwOnLayerError?: boolean
  /**
   * Track key prefixes, so that `invalidatePrefix` can reach every key under one: `true` splits
   * keys on ':' eight segments deep, or give `{ separator, maxDepth }`. Off by default: each
   * tracked prefix is a tag every entry carries, which a hit checks and a write stores.
   */
  prefixes?: PrefixOptions | boolean
  /**
   * How long this instance trusts the tag versions it read from a shared tag store (a layer
   * such as Redis that keeps tags) before reading them again: another instance's invalidation
   * is seen here within this time at the latest. Default '1s'. Without a shared store, tag
   * state lives in this process and is always current.
   */
  tagTrust?: Duration
  /**
   * Carries invalidations to the other instances of this namespace (`redisBus()` from
   * `layercache/redis`), so their memory layers drop what this one deleted, overwrote,
   * invalidated or cleared. See docs/multi-instance.md.
   */
  bus?: Bus
  /**
   * While the bus is down (messages may be missed), how long local layers are trusted: entries
   * they held are dropped this long after it went down, and new ones live at most this long.
   * Once the bus is back, local layers are dropped and tag state is read again. Default '5s'.
   */
  busTrust?: Duration
}

const OPTION_KEYS: ReadonlySet<string> = new Set([
  'namespace',
  'layers',
  'policies',
  'clock',
  'random',
  'maxKeyLength',
  'throwOnLayerError',
  'prefixes',
  'tagTrust',
  'bus',
  'busTrust',
])
const NAMESPACE_RE = /^[A-Za-z0-9_.-]{1,64}$/
const LAYER_METHODS = ['get', 'set', 'delete', 'clear'] as const

function checkLayers(layers: unknown): readonly Layer[] {
  if (!Array.isArray(layers) || layers.length === 0) {
    throw invalidOption('layers', `must be a non-empty array of layers, got ${describe(layers)}`)
  }
  const names = new Set<string>()
  layers.forEach((layer: Partial<Layer> | null, i) => {
    const path = `layers[${i}]`
    if (typeof layer !== 'object' || layer === null)
      throw invalidOption(path, `must be a layer, got ${describe(layer)}`)
    if (typeof layer.name !== 'string' || layer.name.length === 0)
      throw invalidOption(`${path}.name`, 'must be a non-empty string')
    for (const method of LAYER_METHODS) {
      if (typeof layer[method] !== 'function')
        throw invalidOption(`${path}.${method}`, 'must be a function')
    }
    if (names.has(layer.name)) {
      throw invalidOption(
        `${path}.name`,
        `"${layer.name}" is used by two layers; give each a unique name`,
      )
    }
    names.add(layer.name)
  })
  return layers as Layer[]
}

/**
 * Creates a cache. With no arguments: a working in-memory cache (one `memoryLayer()`, TTL 5m).
 * Options are validated here: a malformed one throws a `CacheError` `E_INVALID_OPTION` naming it.
 *
 * @example
 * const cache = createCache({
 *   namespace: 'shop',
 *   layers: [memoryLayer({ maxEntries: 10_000 })],
 *   policies: { default: { ttl: '5m' }, analytics: { ttl: '1h', layers: { memory: { ttl: '60s' } } } },
 * })
 */
export function createCache(options: CacheOptions = {}): Cache {
  checkObject(options, 'createCache options', OPTION_KEYS)
  const {
    namespace = 'default',
    clock = systemClock,
    random = Math.random,
    maxKeyLength = DEFAULT_MAX_KEY_LENGTH,
  } = options
  if (typeof namespace !== 'string' || !NAMESPACE_RE.test(namespace)) {
    throw invalidOption(
      'namespace',
      `must be 1-64 letters, digits, '_', '-' or '.', got ${describe(namespace)}`,
    )
  }
  if (typeof clock !== 'object' || clock === null) {
    throw invalidOption('clock', `must be an object with a now() method, got ${describe(clock)}`)
  }
  if (typeof clock.now !== 'function')
    throw invalidOption('clock.now', 'must be a function returning milliseconds')
  if (typeof random !== 'function')
    throw invalidOption('random', `must be a function, got ${describe(random)}`)
  if (!Number.isSafeInteger(maxKeyLength) || maxKeyLength < 32) {
    throw invalidOption(
      'maxKeyLength',
      `must be an integer of at least 32, got ${describe(maxKeyLength)}`,
    )
  }
  const { throwOnLayerError = false } = options
  if (typeof throwOnLayerError !== 'boolean') {
    throw invalidOption(
      'throwOnLayerError',
      `must be a boolean, got ${describe(throwOnLayerError)}`,
    )
  }
  const layers: readonly Layer[] =
    options.layers === undefined ? [memoryLayer()] : checkLayers(options.layers)
  const policies = new PolicyBook(
    options.policies,
    layers.map((layer) => layer.name),
  )
  const prefixes = new Prefixes(options.prefixes)
  const trustMs = parseDuration(options.tagTrust ?? '1s', 'tagTrust')
  const pending = new Set<Promise<unknown>>()
  const lockLayer = layers.findIndex((layer) => typeof layer.lockStore === 'function')
  const locks = lockLayer === -1 ? undefined : layers[lockLayer]!.lockStore!()
  for (const name of policies.names()) {
    if (policies.get(name)!.lock === 'distributed' && !locks)
      throw noLeases(`policies.${name}.lock`)
  }
  const rt = createRuntime(
    {
      layers,
      clock,
      locks,
      lockLayer,
      random,
      policies,
      prefixes,
      throwOnLayerError,
      tags: (rt) => tagStateFor(layers, clock, trustMs, rt),
    },
    pending,
  )
  layers.forEach((layer, i) => {
    layer.bind?.({
      namespace,
      clock,
      report: (operation, error, key) => rt.layerError(i, operation, key, error),
    })
  })
  const { bus } = options
  if (
    bus !== undefined &&
    (typeof bus !== 'object' ||
      bus === null ||
      typeof bus.bind !== 'function' ||
      typeof bus.publish !== 'function')
  ) {
    throw invalidOption('bus', `must be a bus such as redisBus(), got ${describe(bus)}`)
  }
  const busTrust = parseDuration(options.busTrust ?? '5s', 'busTrust')
  return new Cache(namespace, rt, maxKeyLength, pending, bus && { bus, trustMs: busTrust })
}

/**
 * Tag versions live in the first layer that keeps tags for every instance sharing it (Redis),
 * trusted here for `trustMs`; without one, in this process, where they are always current.
 */
function tagStateFor(
  layers: readonly Layer[],
  clock: Clock,
  trustMs: number,
  rt: Runtime,
): TagState {
  const index = layers.findIndex((layer) => typeof layer.tagStore === 'function')
  const report = (operation: string, error: unknown) =>
    rt.layerError(index, operation, undefined, error)
  if (index === -1)
    return new TagState(new MemoryTagStore(clock), clock, Number.POSITIVE_INFINITY, report)
  return new TagState(layers[index]!.tagStore!(), clock, trustMs, report, true)
}
