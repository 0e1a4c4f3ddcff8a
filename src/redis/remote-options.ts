import { parseSize, type Size } from '../core/durations.js'
import { describe, invalidOption } from '../core/errors.js'
import { checkName } from '../core/validate.js'
import type { ResilienceOptions } from '../layers/guard.js'
import { Codec } from './codec.js'
import { deflateCompression } from './compression.js'

/** Options every remote layer (Redis, keyv) accepts. */
export interface RemoteLayerOptions extends ResilienceOptions {
  /** Layer name in policies, stats and errors. */
  name?: string
  /** Compress encoded values above a size (deflate), e.g. `{ threshold: '4kb' }`; `false` (default) never. */
  compression?: { threshold?: Size } | false
  /** Refuse values whose encoding exceeds this (`E_VALUE_TOO_LARGE` at `set`/`wrap`). No limit by default. */
  maxValueBytes?: Size
}

/** The option names of {@link RemoteLayerOptions}, for validation of the layer's own options. */
export const REMOTE_OPTION_KEYS = [
  'name',
  'timeout',
  'breaker',
  'maxDirtyKeys',
  'compression',
  'maxValueBytes',
]

/** Builds the codec a remote layer's options describe; `path` names the layer in errors. */
export function codecFor(options: RemoteLayerOptions, path: string): Codec {
  const { compression = false, maxValueBytes } = options
  if (compression !== false && (typeof compression !== 'object' || compression === null)) {
    throw invalidOption(
      `${path}.compression`,
      `must be false or { threshold }, got ${describe(compression)}`,
    )
  }
  // Without compression the threshold is infinite: nothing is compressed, yet values that
  // another instance (or an earlier configuration) compressed can still be read.
  const threshold = compression
    ? parseSize(compression.threshold ?? '1kb', `${path}.compression.threshold`)
    : Number.POSITIVE_INFINITY
  return new Codec({
    compression: deflateCompression(threshold),
    maxValueBytes:
      maxValueBytes === undefined ? undefined : parseSize(maxValueBytes, `${path}.maxValueBytes`),
  })
}

/** The layer name from the options, validated. */
export function nameOf(options: RemoteLayerOptions, fallback: string, path: string): string {
  const name = options.name ?? fallback
  checkName(name, `${path}.name`)
  return name
}

/** The resilience part of the options. */
export function resilienceOf(options: RemoteLayerOptions): ResilienceOptions {
  const { timeout, breaker, maxDirtyKeys } = options
  return { timeout, breaker, maxDirtyKeys }
}
