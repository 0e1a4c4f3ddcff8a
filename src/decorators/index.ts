import type { AcknowledgeOptions, Cache, WrapOptions } from '../core/cache.js'
import type { CallOptions } from '../core/call-options.js'
import { describe, invalidOption } from '../core/errors.js'
import type { InvalidationMode } from '../tags/tag-store.js'
import { stableKey } from './stable-key.js'

export { stableKey } from './stable-key.js'

/** The cache a decorator uses: an instance, or a function of the object called (DI containers). */
// biome-ignore lint/suspicious/noExplicitAny: user functions and methods of any parameter types (unknown[] would refuse them, parameters being contravariant)
export type CacheSource = Cache | ((self: any) => Cache)

/** A key function: builds the key from the method's arguments. */
// biome-ignore lint/suspicious/noExplicitAny: user functions and methods of any parameter types (unknown[] would refuse them, parameters being contravariant)
export type KeyFunction = (...args: any[]) => string

/**
 * Tags of a decorated call: a list, or a function of the method's arguments. A function that
 * declares one parameter more than the method gets the result there too (it then runs once
 * the result exists).
 */
// biome-ignore lint/suspicious/noExplicitAny: user functions and methods of any parameter types (unknown[] would refuse them, parameters being contravariant)
export type DecoratorTags = readonly string[] | ((...argsAndResult: any[]) => readonly string[])

/** Options of {@link Cached}: those of `cache.wrap`, plus where the cache and the key come from. */
export interface CachedOptions<
  K extends KeyFunction | undefined,
  T extends DecoratorTags | undefined,
> extends Omit<WrapOptions<unknown>, 'tags'> {
  /** The cache, or a function returning it for the object called (resolved at each call). */
  cache: CacheSource
  /**
   * The key, from the method's arguments. Default: `${name}:${stable encoding of the
   * arguments}` (see {@link stableKey}), `name` being `Class.method`.
   */
  key?: K
  /** The key prefix of the default key. Default: the class name and the method name (give one when class names are minified). */
  name?: string
  tags?: T
}

/** Options of {@link CachePut}: those of `cache.set`, plus where the cache and the key come from. */
export interface CachePutOptions<
  K extends KeyFunction | undefined,
  T extends DecoratorTags | undefined,
> extends Omit<CallOptions, 'tags'> {
  cache: CacheSource
  key?: K
  name?: string
  tags?: T
}

/** Options of {@link InvalidateTags}. */
export interface InvalidateTagsOptions<T extends DecoratorTags> extends AcknowledgeOptions {
  cache: CacheSource
  /** The tags to invalidate once the method resolved: a list, or a function of its arguments (and result). */
  tags: T
  /** `'expire'` (default) or `'stale'` (served stale while one refresh runs). */
  mode?: InvalidationMode
}

type Fits<K, T, A extends unknown[], R> = [
  [K] extends [undefined] ? true : K extends (...args: A) => string ? true : false,
  [T] extends [undefined]
    ? true
    : T extends readonly string[]
      ? true
      : T extends (...args: A) => readonly string[]
        ? true
        : T extends (...args: [...A, R]) => readonly string[]
          ? true
          : false,
] extends [true, true]
  ? true
  : false

/** What a method whose parameters do not fit the decorator's `key` or `tags` is told. */
export interface ParametersMismatch {
  "the key or tags function does not accept the method's parameters (and result)": never
}

type Check<K, T, M extends AsyncMethod> =
  Fits<K, T, Parameters<M>, Awaited<ReturnType<M>>> extends true ? unknown : ParametersMismatch

// biome-ignore lint/suspicious/noExplicitAny: user functions and methods of any parameter types (unknown[] would refuse them, parameters being contravariant)
type AsyncMethod = (...args: any[]) => Promise<unknown>

/**
 * What the decorator factories return: a decorator for async methods, for TypeScript 5
 * standard decorators and for legacy `experimentalDecorators` alike (told apart at runtime).
 * The `key` and `tags` functions must accept the method's parameters.
 */
export interface AsyncMethodDecorator<K, T> {
  /** TypeScript 5 (TC39) decorators. */
  <This, M extends AsyncMethod>(
    method: M,
    context: ClassMethodDecoratorContext<This, M> & Check<K, T, M>,
  ): M
  /** Legacy `experimentalDecorators` (NestJS, older code bases). */
  <M extends AsyncMethod>(
    target: object,
    propertyKey: string | symbol,
    descriptor: TypedPropertyDescriptor<M> & Check<K, T, M>,
  ): TypedPropertyDescriptor<M>
}

type AnyMethod = (this: unknown, ...args: unknown[]) => Promise<unknown>
/** Tags as the helpers see them (the parameter types are the user's business). */
type AnyTags = readonly string[] | ((...args: never[]) => readonly string[])

/** Builds the replacement of `method`, called `name` (for errors and default keys). */
type Wrapper = (method: AnyMethod, name: string) => AnyMethod

/**
 * Caches an async method through `cache.wrap`: a hit does not call the method; concurrent
 * calls with the same key share one run; everything `wrap` offers applies (policy, ttl,
 * stale-while-revalidate, locks). `this` is preserved.
 *
 * @example
 * class DashboardService {
 *   @Cached({ cache, policy: 'dashboard', key: (userId: string) => `dashboard:${userId}`,
 *             tags: (userId: string) => [`user:${userId}`] })
 *   async getDashboard(userId: string): Promise<Dashboard> { ... }
 * }
 */
export function Cached<
  const K extends KeyFunction | undefined = undefined,
  const T extends DecoratorTags | undefined = undefined,
>(options: CachedOptions<K, T>): AsyncMethodDecorator<K, T> {
  const { cache, key, name, tags: _tags, ...wrapOptions } = checkOptions(options, 'Cached')
  const tags = options.tags as AnyTags | undefined
  return decorator('Cached', (method, methodName) => {
    const prefix = (self: unknown) => name ?? `${className(self)}.${methodName}`
    return async function cached(this: unknown, ...args: unknown[]) {
      const target = resolveCache(cache, this, 'Cached')
      const cacheKey = keyOf(key, args, prefix(this), 'Cached')
      const call: WrapOptions<unknown> = { ...wrapOptions }
      // Tags from the arguments are recorded before the method runs (an invalidation while it
      // runs is caught); tags that need the result can only be recorded after it.
      const list = tagsFor(tags, method, args)
      if (list) call.tags = list
      return target.wrap(cacheKey, () => method.apply(this, args), call)
    }
  })
}

/**
 * Always runs the async method, then writes its result to the cache under the method's key
 * (write-through updates: the next `@Cached` read of that key gets it).
 *
 * @example
 * @CachePut({ cache, key: (user: User) => `user:${user.id}` })
 * async save(user: User): Promise<User> { return db.users.save(user) }
 */
export function CachePut<
  const K extends KeyFunction | undefined = undefined,
  const T extends DecoratorTags | undefined = undefined,
>(options: CachePutOptions<K, T>): AsyncMethodDecorator<K, T> {
  const { cache, key, name, tags: _tags, ...setOptions } = checkOptions(options, 'CachePut')
  const tags = options.tags as AnyTags | undefined
  return decorator('CachePut', (method, methodName) => {
    return async function cachePut(this: unknown, ...args: unknown[]) {
      const target = resolveCache(cache, this, 'CachePut')
      const cacheKey = keyOf(key, args, name ?? `${className(this)}.${methodName}`, 'CachePut')
      const result = await method.apply(this, args)
      const call: CallOptions = { ...setOptions }
      const list = tagsOf(tags, method, args, result)
      if (list) call.tags = list
      await target.set(cacheKey, result, call)
      return result
    }
  })
}

/**
 * Invalidates tags once the async method resolved; nothing is invalidated when it throws.
 *
 * @example
 * @InvalidateTags({ cache, tags: (userId: string) => [`user:${userId}`] })
 * async updateProfile(userId: string, patch: ProfilePatch): Promise<void> { ... }
 */
export function InvalidateTags<const T extends DecoratorTags>(
  options: InvalidateTagsOptions<T>,
): AsyncMethodDecorator<undefined, T> {
  const { cache, acknowledge, mode } = checkOptions(options, 'InvalidateTags')
  const tags = options.tags as AnyTags | undefined
  if (tags === undefined) throw invalidOption('InvalidateTags options.tags', 'is required')
  return decorator('InvalidateTags', (method) => {
    return async function invalidating(this: unknown, ...args: unknown[]) {
      const target = resolveCache(cache, this, 'InvalidateTags')
      const result = await method.apply(this, args)
      const list = tagsOf(tags, method, args, result) ?? []
      const call: { acknowledge?: AcknowledgeOptions['acknowledge']; mode?: InvalidationMode } = {}
      if (acknowledge !== undefined) call.acknowledge = acknowledge
      if (mode !== undefined) call.mode = mode
      await target.invalidateTags(list, call)
      return result
    }
  })
}

/** The decorator for both decorator flavours, around `wrap(method, name)`. */
// biome-ignore lint/suspicious/noExplicitAny: user functions and methods of any parameter types (unknown[] would refuse them, parameters being contravariant)
function decorator(kind: string, wrap: Wrapper): AsyncMethodDecorator<any, any> {
  return ((method: unknown, context: unknown, descriptor?: PropertyDescriptor) => {
    if (isStandardContext(context)) {
      if (context.kind !== 'method') {
        throw invalidOption(`@${kind}`, `decorates methods, not a ${context.kind}`)
      }
      return wrap(method as AnyMethod, String(context.name))
    }
    // Legacy: (prototype or class, property key, descriptor).
    const name = String(context)
    if (!descriptor || typeof descriptor.value !== 'function') {
      throw invalidOption(`@${kind}`, `decorates methods; ${name} is not one`)
    }
    if (!isAsync(descriptor.value)) {
      throw invalidOption(
        `@${kind}`,
        `decorates async methods; ${name} is not a native async function (declare it async, and compile to ES2017 or later: older targets turn async methods into plain functions)`,
      )
    }
    descriptor.value = wrap(descriptor.value as AnyMethod, name)
    return descriptor
    // biome-ignore lint/suspicious/noExplicitAny: user functions and methods of any parameter types (unknown[] would refuse them, parameters being contravariant)
  }) as AsyncMethodDecorator<any, any>
}

function isStandardContext(context: unknown): context is ClassMethodDecoratorContext & {
  kind: string
} {
  return typeof context === 'object' && context !== null && 'kind' in context
}

function isAsync(fn: unknown): boolean {
  return (fn as { [Symbol.toStringTag]?: string })[Symbol.toStringTag] === 'AsyncFunction'
}

/** The class called: the object's class, or the class itself for a static method. */
function className(self: unknown): string {
  if (typeof self === 'function') return self.name || 'anonymous'
  return (self as { constructor?: { name?: string } } | null)?.constructor?.name || 'anonymous'
}

function resolveCache(source: CacheSource, self: unknown, kind: string): Cache {
  const cache = typeof source === 'function' ? source(self) : source
  if (!cache || typeof (cache as Cache).wrap !== 'function') {
    throw invalidOption(
      `@${kind} options.cache`,
      `must be a cache (or return one), got ${describe(cache)}`,
    )
  }
  return cache
}

function keyOf(
  // biome-ignore lint/suspicious/noExplicitAny: user functions and methods of any parameter types (unknown[] would refuse them, parameters being contravariant)
  key: ((...args: any[]) => string) | undefined,
  args: unknown[],
  prefix: string,
  kind: string,
): string {
  if (key) return key(...args)
  return `${prefix}:${stableKey(args, `@${kind} on ${prefix}`)}`
}

/** Whether a tags function asks for the result: it declares more parameters than the method. */
function wantsResult(tags: unknown, method: AnyMethod): boolean {
  return typeof tags === 'function' && tags.length > method.length
}

/** Arguments padded to the method's declared parameters, so the result lands after them. */
/**
 * The arguments a tags function that wants the result gets before it: exactly one fewer than
 * it declares (padded with `undefined`, or cut), so the result lands in its last parameter
 * whatever the call passed (optional or default parameters, extra arguments).
 */
function padded(tags: (...args: never[]) => unknown, args: unknown[]): unknown[] {
  const wanted = tags.length - 1
  if (args.length === wanted) return args
  if (args.length > wanted) return args.slice(0, wanted)
  return [...args, ...new Array(wanted - args.length).fill(undefined)]
}

/** A `wrap` call's tags: the list, the function's answer, or a function of the result. */
function tagsFor(
  tags: AnyTags | undefined,
  method: AnyMethod,
  args: unknown[],
): readonly string[] | ((value: unknown) => readonly string[]) | undefined {
  if (tags === undefined || typeof tags !== 'function') return tags
  const fn = tags as (...args: unknown[]) => readonly string[]
  if (!wantsResult(tags, method)) return fn(...args)
  return (value) => fn(...padded(fn, args), value)
}

/** The tags of a call whose result is known (`@CachePut`, `@InvalidateTags`). */
function tagsOf(
  tags: AnyTags | undefined,
  method: AnyMethod,
  args: unknown[],
  result: unknown,
): readonly string[] | undefined {
  const found = tagsFor(tags, method, args)
  return typeof found === 'function' ? found(result) : found
}

function checkOptions<T extends { cache: CacheSource }>(options: T, kind: string): T {
  if (typeof options !== 'object' || options === null) {
    throw invalidOption(`@${kind} options`, `must be an object, got ${describe(options)}`)
  }
  const { cache } = options
  if (
    typeof cache !== 'function' &&
    (typeof cache !== 'object' || cache === null || typeof (cache as Cache).wrap !== 'function')
  ) {
    throw invalidOption(
      `@${kind} options.cache`,
      `must be a cache or a function returning one, got ${describe(cache)}`,
    )
  }
  const o = options as Record<string, unknown>
  for (const field of ['key', 'tags'] as const) {
    const value = o[field]
    if (value === undefined) continue
    if (field === 'key' && typeof value !== 'function') {
      throw invalidOption(
        `@${kind} options.key`,
        `must be a function of the method's arguments, got ${describe(value)}`,
      )
    }
    if (field === 'tags' && typeof value !== 'function' && !Array.isArray(value)) {
      throw invalidOption(
        `@${kind} options.tags`,
        `must be a list of tags or a function, got ${describe(value)}`,
      )
    }
  }
  if (o.name !== undefined && (typeof o.name !== 'string' || o.name.length === 0)) {
    throw invalidOption(
      `@${kind} options.name`,
      `must be a non-empty string, got ${describe(o.name)}`,
    )
  }
  return options
}
