import { describe, invalidOption } from './errors.js'
import {
  BUILTIN_DEFAULT_POLICY,
  compilePolicy,
  mergePolicies,
  POLICY_KEYS,
  type PolicyOptions,
  type ResolvedPolicy,
} from './policies.js'
import { checkObject, isPlainObject } from './validate.js'

/** Options of a single call: a policy name plus overrides of any policy field. */
export interface CallOptions extends PolicyOptions {
  /** Name of a policy given to `createCache({ policies })`; `default` when omitted. */
  policy?: string
}

const CALL_KEYS: ReadonlySet<string> = new Set(['policy', ...POLICY_KEYS])

/**
 * The compiled policies of one cache and the resolution of per-call options.
 *
 * A hit needs no policy, so the hot path only checks the call's field names and policy name
 * (`check`); the full parse (`resolve`) happens when something is written. Option objects a
 * caller reuses are parsed once (memoised by identity).
 */
export class PolicyBook {
  readonly default: ResolvedPolicy
  readonly #resolved = new Map<string, ResolvedPolicy>()
  readonly #raw = new Map<string, PolicyOptions>()
  readonly #memo = new WeakMap<object, ResolvedPolicy>()
  readonly #layerNames: readonly string[]

  constructor(policies: unknown, layerNames: readonly string[]) {
    this.#layerNames = layerNames
    if (policies !== undefined && !isPlainObject(policies)) {
      throw invalidOption(
        'policies',
        `must be an object of named policies, got ${describe(policies)}`,
      )
    }
    const given = (policies ?? {}) as Record<string, unknown>
    const defaultRaw = mergePolicies(BUILTIN_DEFAULT_POLICY, (given.default ?? {}) as PolicyOptions)
    this.default = this.#add('default', defaultRaw, given.default ?? {})
    for (const [name, options] of Object.entries(given)) {
      if (name === 'default') continue
      if (!isPlainObject(options)) {
        throw invalidOption(`policies.${name}`, `must be an object, got ${describe(options)}`)
      }
      this.#add(name, mergePolicies(defaultRaw, options as PolicyOptions), options)
    }
  }

  #add(name: string, merged: PolicyOptions, given: unknown): ResolvedPolicy {
    // Validate what the user wrote (so errors name their fields), then compile the merge.
    compilePolicy(name, given, `policies.${name}`, this.#layerNames)
    const resolved = compilePolicy(name, merged, `policies.${name}`, this.#layerNames)
    this.#resolved.set(name, resolved)
    this.#raw.set(name, merged)
    return resolved
  }

  /** Names of all policies, `default` first. */
  names(): string[] {
    return [...this.#resolved.keys()]
  }

  /** The compiled policy called `name`, if any. */
  get(name: string): ResolvedPolicy | undefined {
    return this.#resolved.get(name)
  }

  /** Cheap validation for the hot path: known fields and an existing policy name. */
  check(options: CallOptions | undefined, path: string): void {
    if (options === undefined) return
    if (typeof options !== 'object' || options === null) {
      throw invalidOption(path, `must be an object, got ${describe(options)}`)
    }
    for (const key in options) {
      if (!CALL_KEYS.has(key)) {
        throw invalidOption(
          `${path}.${key}`,
          `is not a known option (known: ${[...CALL_KEYS].join(', ')})`,
        )
      }
    }
    if (options.policy !== undefined && !this.#resolved.has(options.policy)) {
      throw invalidOption(
        `${path}.policy`,
        `names no policy: ${describe(options.policy)} (policies: ${this.names().join(', ')})`,
      )
    }
  }

  /** The policy a call runs under: its named policy with the call's overrides applied. */
  resolve(options: CallOptions | undefined, path: string): ResolvedPolicy {
    if (options === undefined) return this.default
    const memo = this.#memo.get(options)
    if (memo) return memo
    this.check(options, path)
    const name = options.policy ?? 'default'
    let hasOverrides = false
    for (const key in options) {
      if (key !== 'policy' && (options as Record<string, unknown>)[key] !== undefined)
        hasOverrides = true
    }
    let resolved = this.#resolved.get(name)!
    if (hasOverrides) {
      const { policy: _policy, ...overrides } = options
      checkObject(overrides, path, CALL_KEYS)
      compilePolicy(name, overrides, path, this.#layerNames)
      resolved = compilePolicy(
        name,
        mergePolicies(this.#raw.get(name)!, overrides),
        path,
        this.#layerNames,
      )
    }
    this.#memo.set(options, resolved)
    return resolved
  }
}
