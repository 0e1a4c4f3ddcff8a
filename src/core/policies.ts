import { checkTags } from '../tags/tag-names.js'
import { type Duration, parseDuration } from './durations.js'
import { describe, invalidOption } from './errors.js'
import { checkObject } from './validate.js'

/** Options that apply to one layer only. */
export interface LayerPolicyOptions {
  /** How long this layer keeps the entry; never longer than the entry's life. `0` skips the layer. */
  ttl?: Duration
}

/**
 * How one kind of data is cached. Named policies extend `default`; a call may override any field.
 *
 * @example
 * { ttl: '1h', jitter: 0.1, layers: { memory: { ttl: '60s' } } }
 */
export interface PolicyOptions {
  /** How long an entry is fresh. Milliseconds or a string ('90s', '5m', '7d'); `Infinity` never expires; `0` does not cache. */
  ttl?: Duration
  /**
   * Spread expiries: each write takes a random amount off its TTLs, up to this fraction of the
   * TTL (a number from 0 to 1) or this duration (a string such as '30s'). TTLs never grow.
   */
  jitter?: number | string
  /** Tags every entry of this policy carries. */
  tags?: readonly string[]
  /** Per-layer overrides, by layer name. */
  layers?: Record<string, LayerPolicyOptions>
}

/** A policy after parsing: plain numbers, one slot per layer. */
export interface ResolvedPolicy {
  readonly name: string
  readonly ttl: number
  /** Fraction of each TTL that jitter may take off (0 when jitter is a duration). */
  readonly jitterFraction: number
  /** Milliseconds jitter may take off (0 when jitter is a fraction). */
  readonly jitterMs: number
  readonly tags: readonly string[]
  /** Per-layer TTL caps, indexed like the cache's layers; `undefined` means the entry's life. */
  readonly layerTtl: readonly (number | undefined)[]
}

/** The policy used when neither the cache nor the call names one. */
export const BUILTIN_DEFAULT_POLICY: Readonly<PolicyOptions> = { ttl: '5m' }

const POLICY_KEYS: ReadonlySet<string> = new Set(['ttl', 'jitter', 'tags', 'layers'])
const LAYER_POLICY_KEYS: ReadonlySet<string> = new Set(['ttl'])

/** Merges `over` onto `base`; `layers` merge per layer name, `tags` concatenate. */
export function mergePolicies(base: PolicyOptions, over: PolicyOptions): PolicyOptions {
  const merged: PolicyOptions = { ...base, ...over }
  if (base.layers || over.layers) {
    const layers: Record<string, LayerPolicyOptions> = { ...base.layers }
    for (const [name, layer] of Object.entries(over.layers ?? {})) {
      layers[name] = { ...layers[name], ...layer }
    }
    merged.layers = layers
  }
  if (base.tags && over.tags) merged.tags = [...base.tags, ...over.tags]
  return merged
}

function parseJitter(value: unknown, path: string): { fraction: number; ms: number } {
  if (value === undefined) return { fraction: 0, ms: 0 }
  if (typeof value === 'number') {
    if (!(value >= 0 && value <= 1)) {
      throw invalidOption(
        path,
        `must be a fraction from 0 to 1 or a duration string such as '30s', got ${describe(value)}`,
      )
    }
    return { fraction: value, ms: 0 }
  }
  return { fraction: 0, ms: parseDuration(value, path) }
}

function parseTags(value: unknown, path: string): readonly string[] {
  if (value === undefined) return []
  return [...new Set(checkTags(value, path))]
}

/**
 * Validates and parses a policy. `path` names it in errors (e.g. `policies.dashboard`).
 * Unknown fields, negative or unparsable durations and unknown layer names are errors.
 */
export function compilePolicy(
  name: string,
  input: unknown,
  path: string,
  layerNames: readonly string[],
): ResolvedPolicy {
  const options = checkObject(input, path, POLICY_KEYS) as PolicyOptions & Record<string, unknown>
  const ttl = parseDuration(options.ttl ?? BUILTIN_DEFAULT_POLICY.ttl, `${path}.ttl`, true)
  const jitter = parseJitter(options.jitter, `${path}.jitter`)
  const tags = parseTags(options.tags, `${path}.tags`)
  const layerTtl: (number | undefined)[] = layerNames.map(() => undefined)
  if (options.layers !== undefined) {
    const layers = checkObject(options.layers, `${path}.layers`, new Set(layerNames))
    for (const [layerName, given] of Object.entries(layers)) {
      const layerPath = `${path}.layers.${layerName}`
      const layerOptions = checkObject(given, layerPath, LAYER_POLICY_KEYS)
      if (layerOptions.ttl !== undefined) {
        layerTtl[layerNames.indexOf(layerName)] = parseDuration(
          layerOptions.ttl,
          `${layerPath}.ttl`,
          true,
        )
      }
    }
  }
  return { name, ttl, jitterFraction: jitter.fraction, jitterMs: jitter.ms, tags, layerTtl }
}

/** Takes a random share of the jitter allowance off `ttl`; `r` is in [0, 1). */
export function applyJitter(policy: ResolvedPolicy, ttl: number, r: number): number {
  if (ttl === Number.POSITIVE_INFINITY) return ttl
  const allowance =
    policy.jitterFraction > 0 ? ttl * policy.jitterFraction : Math.min(policy.jitterMs, ttl)
  return allowance > 0 ? ttl - r * allowance : ttl
}
