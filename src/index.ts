export type { Bus, BusLink, BusMessage, ReceivedMessage } from './core/bus.js'
export type {
  AcknowledgeOptions,
  BatchLoader,
  InspectOptions,
  InvalidateOptions,
  WrapManyOptions,
} from './core/cache.js'
export { Cache, type Factory, type WrapOptions } from './core/cache.js'
export type { CallOptions } from './core/call-options.js'
export type { Clock } from './core/clock.js'
export type { FactoryContext } from './core/compute.js'
export { type CacheOptions, createCache } from './core/create-cache.js'
export type { Duration, Size } from './core/durations.js'
export type { Entry } from './core/entry.js'
export { CacheError, type CacheErrorCode } from './core/errors.js'
export type { CacheEventName, CacheEvents, CacheListener, StaleReason } from './core/events.js'
export type {
  BusHealthReport,
  CacheResult,
  EntryInfo,
  HealthReport,
  KeyReport,
  LayerEntryReport,
  LayerHealthReport,
  PolicyInfo,
  ServedStatus,
} from './core/inspect.js'
export type { LockStore } from './core/lock.js'
export type { LayerPolicyOptions, PolicyOptions } from './core/policies.js'
export type { CacheStats, LayerStats } from './core/stats.js'
export type { WarmItem, WarmOptions, WarmReport, WarmSource } from './core/warm.js'
export type { WarmerInfo, WarmerOptions, Warmers } from './core/warmers.js'
export type { BreakerOptions, LayerHealth, ResilienceOptions } from './layers/guard.js'
export type { Layer, LayerContext, LayerSetItem, MaybePromise } from './layers/layer.js'
export { MemoryLayer, type MemoryLayerOptions, memoryLayer } from './layers/memory-layer.js'
export { ResilientLayer, resilient } from './layers/resilient-layer.js'
