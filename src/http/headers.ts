import { type Duration, parseDuration } from '../core/durations.js'
import { describe, invalidOption } from '../core/errors.js'
import { hashString } from '../core/hash.js'
import type { CacheResult, EntryInfo } from '../core/inspect.js'
import { checkObject } from '../core/validate.js'

/** What `new Headers(init)` accepts (spelled out: the package does not need the DOM lib). */
export type HeadersLike = ConstructorParameters<typeof Headers>[0]

/** Freshness directives for a shared cache in front of the server (a CDN). */
export interface SharedCacheDirectives {
  /** `max-age` for that cache. */
  maxAge?: Duration
  staleWhileRevalidate?: Duration
  staleIfError?: Duration
}

/**
 * How clients and caches in front of the server may keep a response: the HTTP side of a
 * policy. Durations are ms numbers or strings ('30s', '5m'); headers carry whole seconds.
 */
export interface HttpCachePolicy {
  /** `public` (default: any cache may store it) or `private` (only the user's browser). */
  visibility?: 'public' | 'private'
  /**
   * How long a client may use the response without asking again. Unset: `no-cache` (clients
   * store it but revalidate every time, cheaply with the ETag: a write is seen at once).
   * `'entry'`: the cached entry's fresh lifetime.
   */
  maxAge?: Duration | 'entry'
  /** `s-maxage`: how long shared caches (proxies, CDNs) may use it. Ignored when `private`. */
  sMaxAge?: Duration
  /** `stale-while-revalidate` (RFC 5861). */
  staleWhileRevalidate?: Duration
  /** `stale-if-error` (RFC 5861). */
  staleIfError?: Duration
  /** `immutable`: the response never changes while fresh. */
  immutable?: boolean
  /** `no-store` and nothing else: no cache may keep it. */
  noStore?: boolean
  /** A `CDN-Cache-Control` header (RFC 9213), read by CDNs instead of `Cache-Control`. */
  cdn?: SharedCacheDirectives
  /** A `Surrogate-Control` header (Fastly, Akamai, Varnish). */
  surrogate?: SharedCacheDirectives
  /** Request headers the response depends on, sent as `Vary`. */
  vary?: readonly string[]
}

const POLICY_KEYS: ReadonlySet<string> = new Set([
  'visibility',
  'maxAge',
  'sMaxAge',
  'staleWhileRevalidate',
  'staleIfError',
  'immutable',
  'noStore',
  'cdn',
  'surrogate',
  'vary',
])
const SHARED_KEYS: ReadonlySet<string> = new Set(['maxAge', 'staleWhileRevalidate', 'staleIfError'])

/** The longest `max-age` worth sending (a year; RFC 9111 caps delta-seconds usefulness). */
const MAX_SECONDS = 31_536_000

function seconds(value: Duration, path: string): number {
  const ms = parseDuration(value, path)
  if (ms < 0) throw invalidOption(path, `must not be negative, got ${describe(value)}`)
  return Math.min(MAX_SECONDS, Math.floor(ms / 1000))
}

function lifetime(entry: EntryInfo | undefined): number {
  if (!entry) return 0
  const ms = entry.freshUntil - entry.createdAt
  return Number.isFinite(ms)
    ? Math.min(MAX_SECONDS, Math.max(0, Math.floor(ms / 1000)))
    : MAX_SECONDS
}

function shared(
  directives: SharedCacheDirectives,
  path: string,
  entry: EntryInfo | undefined,
): string {
  checkObject(directives, path, SHARED_KEYS)
  const parts = [
    `max-age=${
      directives.maxAge === undefined
        ? lifetime(entry)
        : seconds(directives.maxAge, `${path}.maxAge`)
    }`,
  ]
  if (directives.staleWhileRevalidate !== undefined)
    parts.push(
      `stale-while-revalidate=${seconds(directives.staleWhileRevalidate, `${path}.staleWhileRevalidate`)}`,
    )
  if (directives.staleIfError !== undefined)
    parts.push(`stale-if-error=${seconds(directives.staleIfError, `${path}.staleIfError`)}`)
  return parts.join(', ')
}

/** Checks `policy` and answers it (an empty policy when undefined). */
function checked(policy: HttpCachePolicy | undefined, path: string): HttpCachePolicy {
  if (policy === undefined) return {}
  checkObject(policy, path, POLICY_KEYS)
  if (
    policy.visibility !== undefined &&
    policy.visibility !== 'public' &&
    policy.visibility !== 'private'
  )
    throw invalidOption(
      `${path}.visibility`,
      `must be 'public' or 'private', got ${describe(policy.visibility)}`,
    )
  if (
    policy.vary !== undefined &&
    (!Array.isArray(policy.vary) ||
      policy.vary.some((h) => typeof h !== 'string' || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(h)))
  )
    throw invalidOption(`${path}.vary`, 'must be an array of header names')
  return policy
}

/**
 * The `Cache-Control` value for `policy`. `entry` gives the lifetime of `maxAge: 'entry'` and
 * of shared-cache directives without a `maxAge`.
 *
 * @example
 * cacheControl({ maxAge: '30s', staleWhileRevalidate: '1m' }) // 'public, max-age=30, stale-while-revalidate=60'
 */
export function cacheControl(policy: HttpCachePolicy = {}, entry?: EntryInfo): string {
  const p = checked(policy, 'http policy')
  if (p.noStore) return 'no-store'
  const parts: string[] = [p.visibility ?? 'public']
  if (p.maxAge === undefined) parts.push('no-cache')
  else
    parts.push(
      `max-age=${p.maxAge === 'entry' ? lifetime(entry) : seconds(p.maxAge, 'http policy.maxAge')}`,
    )
  if (p.sMaxAge !== undefined && p.visibility !== 'private')
    parts.push(`s-maxage=${seconds(p.sMaxAge, 'http policy.sMaxAge')}`)
  if (p.staleWhileRevalidate !== undefined)
    parts.push(
      `stale-while-revalidate=${seconds(p.staleWhileRevalidate, 'http policy.staleWhileRevalidate')}`,
    )
  if (p.staleIfError !== undefined)
    parts.push(`stale-if-error=${seconds(p.staleIfError, 'http policy.staleIfError')}`)
  if (p.immutable) parts.push('immutable')
  return parts.join(', ')
}

/**
 * A weak ETag for a stored entry: the same on every instance for one computation of the value
 * (it travels in the envelope), different after a recomputation. `key` tells apart entries of
 * one URL stored under several keys (`Vary`).
 */
export function entityTag(entry: EntryInfo, key = ''): string {
  return `W/"${entry.createdAt.toString(36)}-${hashString(`${key}\n${entry.createdAt}\n${entry.freshUntil}`).slice(0, 11)}"`
}

/** The opaque part of an entity tag (weak comparison, RFC 9110 8.8.3.2). */
function opaque(tag: string): string {
  const t = tag.trim()
  return t.startsWith('W/') ? t.slice(2) : t
}

/**
 * Whether `request`'s `If-None-Match` matches `etag` (weak comparison; `*` matches any; a list
 * matches when one member does).
 */
export function ifNoneMatch(request: Request, etag: string): boolean {
  const header = request.headers.get('if-none-match')
  if (header === null) return false
  if (header.trim() === '*') return true
  const wanted = opaque(etag)
  // Entity tags may hold commas only inside quotes: split on commas outside them.
  for (const tag of header.match(/(?:W\/)?"[^"]*"|[^,\s]+/g) ?? []) {
    if (opaque(tag) === wanted) return true
  }
  return false
}

/** Headers a 304 must carry when the 200 would have (RFC 9110 15.4.5), plus ours. */
const KEPT_ON_304 = [
  'cache-control',
  'cdn-cache-control',
  'surrogate-control',
  'content-location',
  'date',
  'etag',
  'expires',
  'vary',
  'age',
  'x-cache',
  'x-cache-layer',
]

/**
 * A `304 Not Modified` (no body) when `request` is a GET or HEAD whose `If-None-Match`
 * matches the ETag in `headers`; otherwise `undefined`.
 */
export function notModified(request: Request, headers: Headers): Response | undefined {
  if (request.method !== 'GET' && request.method !== 'HEAD') return undefined
  const etag = headers.get('etag')
  if (etag === null || !ifNoneMatch(request, etag)) return undefined
  const kept = new Headers()
  for (const name of KEPT_ON_304) {
    const value = headers.get(name)
    if (value !== null) kept.set(name, value)
  }
  return new Response(null, { status: 304, headers: kept })
}

/** The `X-Cache` value of a result. */
function cacheStatus(result: CacheResult<unknown>): 'HIT' | 'MISS' | 'STALE' {
  return result.status === 'hit' ? 'HIT' : result.status === 'stale' ? 'STALE' : 'MISS'
}

/**
 * Response headers for a value served through the cache: `Cache-Control` (and
 * `CDN-Cache-Control` / `Surrogate-Control`) from `policy`, `Vary`, `Age` (on hits),
 * `X-Cache: HIT | MISS | STALE`, `X-Cache-Layer` (the layer that served), and a weak `ETag`
 * from the entry unless `init` has one. Headers in `init` are kept, except those set here.
 *
 * @example
 * const result = await cache.wrapResult(`report:${id}`, () => loadReport(id))
 * return Response.json(result.value, { headers: cacheHeaders(result, { maxAge: '30s' }) })
 */
export function cacheHeaders(
  result: CacheResult<unknown>,
  policy?: HttpCachePolicy,
  init?: HeadersLike,
  key?: string,
): Headers {
  const headers = new Headers(init)
  const p = checked(policy, 'http policy')
  headers.set('cache-control', cacheControl(p, result.entry))
  if (!p.noStore) {
    if (p.cdn) headers.set('cdn-cache-control', shared(p.cdn, 'http policy.cdn', result.entry))
    if (p.surrogate)
      headers.set('surrogate-control', shared(p.surrogate, 'http policy.surrogate', result.entry))
  }
  if (p.vary && p.vary.length > 0) {
    const names = (headers.get('vary') ?? '')
      .split(',')
      .map((name) => name.trim())
      .filter(Boolean)
    const seen = new Set(names.map((name) => name.toLowerCase()))
    for (const name of p.vary) {
      if (seen.has(name.toLowerCase())) continue
      seen.add(name.toLowerCase())
      names.push(name)
    }
    headers.set('vary', names.join(', '))
  }
  if (result.status !== 'miss' && result.ageMs !== undefined)
    headers.set('age', String(Math.floor(result.ageMs / 1000)))
  headers.set('x-cache', cacheStatus(result))
  if (result.layer !== undefined) headers.set('x-cache-layer', result.layer)
  if (result.entry && !headers.has('etag')) headers.set('etag', entityTag(result.entry, key))
  return headers
}

/** Options of {@link respond}. */
export interface RespondOptions {
  /** The cache key of the value: part of its ETag (see {@link entityTag}). */
  key?: string
  /** The HTTP caching policy (see {@link HttpCachePolicy}). */
  policy?: HttpCachePolicy
  /** Status of a full response. Default 200. */
  status?: number
  /** More headers. */
  headers?: HeadersLike
  /** Turns the value into the body. Default `JSON.stringify`, sent as `application/json`. */
  body?: (value: unknown) => string | Uint8Array
  /** The body's content type. Default `application/json; charset=utf-8`. */
  contentType?: string
}

/**
 * The response for a value served through the cache: `304` (no body) when the request's
 * `If-None-Match` matches, else the value as JSON (or `options.body`) with
 * {@link cacheHeaders}. HEAD requests get the headers without the body.
 *
 * @example
 * const result = await cache.wrapResult(`dashboard:${id}`, () => load(id), { tags: [`user:${id}`] })
 * return respond(request, result, { policy: { maxAge: '10s' } })
 */
export function respond(
  request: Request,
  result: CacheResult<unknown>,
  options: RespondOptions = {},
): Response {
  const headers = cacheHeaders(result, options.policy, options.headers, options.key)
  const unchanged = notModified(request, headers)
  if (unchanged) return unchanged
  const body = (options.body ?? JSON.stringify)(result.value)
  if (!headers.has('content-type'))
    headers.set('content-type', options.contentType ?? 'application/json; charset=utf-8')
  return new Response(request.method === 'HEAD' ? null : body, {
    status: options.status ?? 200,
    headers,
  })
}
