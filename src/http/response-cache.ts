import type { Cache } from '../core/cache.js'
import type { Duration } from '../core/durations.js'
import { describe, invalidOption } from '../core/errors.js'
import { hashString } from '../core/hash.js'
import { checkObject } from '../core/validate.js'
import { cacheControl, cacheHeaders, type HttpCachePolicy, notModified } from './headers.js'

/** A response as the cache keeps it (plain data: every layer can store it). */
export interface StoredResponse {
  status: number
  statusText: string
  /** Header pairs, without per-connection and per-response ones. */
  headers: [string, string][]
  body: Uint8Array
}

/** Options of {@link withCache}. */
export interface ResponseCacheOptions {
  /**
   * The cache key of a request. Default: `http:` + path + sorted query + the values of the
   * `vary` headers. The host is not part of it (instances behind a load balancer share
   * entries); give a `key` that adds it for a multi-tenant server.
   */
  key?: (request: Request) => string
  /** Request headers whose values select different responses: part of the key, sent as `Vary`. */
  vary?: readonly string[]
  /** Tags of the cached response, so `invalidateTags` from a write route drops it. */
  tags?: readonly string[] | ((request: Request) => readonly string[])
  /** The cache policy to store it under (TTL, stale-while-revalidate, …). */
  policy?: string
  /** The TTL, overriding the policy's. */
  ttl?: Duration
  /**
   * The HTTP side: `Cache-Control` and friends (see {@link HttpCachePolicy}). Unset: the
   * handler's own `Cache-Control`, else `no-cache` (clients revalidate with the ETag).
   */
  http?: HttpCachePolicy
  /** Statuses worth caching. Default `[200]`. */
  statuses?: readonly number[]
}

const OPTION_KEYS: ReadonlySet<string> = new Set([
  'key',
  'vary',
  'tags',
  'policy',
  'ttl',
  'http',
  'statuses',
])

/** Headers never stored with a response: per connection, per response, or set on serving. */
const NOT_STORED: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'content-length',
  'date',
  'age',
  'set-cookie',
  'x-cache',
  'x-cache-layer',
  'proxy-authenticate',
  'upgrade',
])

function defaultKey(request: Request, vary: readonly string[]): string {
  const url = new URL(request.url)
  const params = [...url.searchParams].sort(([a, x], [b, y]) =>
    a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0,
  )
  let key = `http:${url.pathname}`
  if (params.length > 0) key += `?${new URLSearchParams(params)}`
  for (const name of vary) key += `\n${name}=${request.headers.get(name) ?? ''}`
  return key
}

/** Whether a fresh response from the handler may be stored. */
function storable(response: Response, statuses: readonly number[]): boolean {
  if (!statuses.includes(response.status)) return false
  if (response.headers.has('set-cookie')) return false
  const control = response.headers.get('cache-control')?.toLowerCase() ?? ''
  return !/(^|[\s,])(no-store|private)([\s,=]|$)/.test(control)
}

async function snapshot(response: Response): Promise<StoredResponse> {
  const headers: [string, string][] = []
  response.headers.forEach((value, name) => {
    if (!NOT_STORED.has(name)) headers.push([name, value])
  })
  const body = new Uint8Array(await response.arrayBuffer())
  if (!response.headers.has('etag')) headers.push(['etag', `"${hashString(body)}"`])
  return { status: response.status, statusText: response.statusText, headers, body }
}

/**
 * Wraps a request handler so that whole GET and HEAD responses are cached by route (path,
 * query and the `vary` request headers), with tags: concurrent requests for one route run the
 * handler once, later ones are served from the cache with `X-Cache: HIT`, `Age` and a strong
 * `ETag` (a hash of the body), and a matching `If-None-Match` gets `304` without a body.
 * Responses with another status than `statuses`, a `Set-Cookie`, or `Cache-Control: no-store`
 * or `private` are passed through and not stored; other methods go straight to the handler.
 *
 * @example
 * const dashboard = withCache(cache, (request) => renderDashboard(request), {
 *   tags: (request) => [`user:${userOf(request)}`],
 *   http: { maxAge: '10s', staleWhileRevalidate: '1m' },
 * })
 * // in the write route: await cache.invalidateTags([`user:${id}`])
 */
export function withCache(
  cache: Cache,
  handler: (request: Request) => Response | Promise<Response>,
  options: ResponseCacheOptions = {},
): (request: Request) => Promise<Response> {
  checkObject(options, 'withCache options', OPTION_KEYS)
  if (typeof handler !== 'function')
    throw invalidOption('withCache handler', `must be a function, got ${describe(handler)}`)
  const vary = (options.vary ?? []).map((name) => name.toLowerCase())
  const statuses = options.statuses ?? [200]
  if (!Array.isArray(statuses) || statuses.some((s) => !Number.isInteger(s) || s < 200 || s > 599))
    throw invalidOption('withCache options.statuses', 'must be an array of HTTP statuses (200-599)')
  if (options.policy !== undefined && !cache.policyNames.includes(options.policy)) {
    throw invalidOption(
      'withCache options.policy',
      `names no policy: ${describe(options.policy)} (policies: ${cache.policyNames.join(', ')})`,
    )
  }
  // Checked once here, so a bad policy fails at start-up rather than on the first request.
  if (options.http) cacheControl(options.http)
  const http: HttpCachePolicy | undefined = options.http && {
    ...options.http,
    vary: [...(options.http.vary ?? []), ...(options.vary ?? [])],
  }
  const { key: keyOf, tags } = options

  return async (request: Request): Promise<Response> => {
    if (request.method !== 'GET' && request.method !== 'HEAD') return handler(request)
    const key = keyOf ? keyOf(request) : defaultKey(request, vary)
    // The handler's own response, when it ran for this request and may not be stored.
    let own: Response | undefined
    const result = await cache.wrapResult<StoredResponse>(
      key,
      async (ctx) => {
        // HEAD is answered from the GET response, so both share one entry.
        const forward =
          request.method === 'HEAD' ? new Request(request, { method: 'GET' }) : request
        const response = await handler(forward)
        const stored = await snapshot(response)
        if (!storable(response, statuses)) {
          ctx.skip()
          own = new Response(stored.body, {
            status: response.status,
            statusText: response.statusText,
            headers: response.headers,
          })
        }
        return stored
      },
      {
        ...(options.policy !== undefined && { policy: options.policy }),
        ...(options.ttl !== undefined && { ttl: options.ttl }),
        ...(tags !== undefined && { tags: typeof tags === 'function' ? [...tags(request)] : tags }),
      },
    )
    if (result.entry === undefined) {
      // Not stored (a status not cached, Set-Cookie, private): it may belong to the request
      // that caused it, so a request that joined it asks the handler itself.
      const response = own ?? (await handler(request))
      const headers = new Headers(response.headers)
      headers.set('x-cache', 'MISS')
      return new Response(request.method === 'HEAD' ? null : response.body, {
        status: response.status,
        statusText: response.statusText,
        headers,
      })
    }
    const stored = result.value
    const headers = cacheHeaders(result, http ?? { vary: options.vary ?? [] }, stored.headers, key)
    if (!http) {
      // No HTTP policy: the handler's own Cache-Control, else revalidate every time.
      const own = stored.headers.find(([name]) => name === 'cache-control')
      headers.set('cache-control', own ? own[1] : 'no-cache')
    }
    const unchanged = notModified(request, headers)
    if (unchanged) return unchanged
    // A HEAD says how long the GET's body would be.
    if (request.method === 'HEAD') headers.set('content-length', String(stored.body.byteLength))
    return new Response(request.method === 'HEAD' ? null : stored.body, {
      status: stored.status,
      statusText: stored.statusText,
      headers,
    })
  }
}
