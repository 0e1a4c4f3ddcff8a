import { parseSize, type Size } from '../core/durations.js'
import { describe, invalidOption } from '../core/errors.js'
import { checkObject } from '../core/validate.js'
import type { Cache } from '../index.js'
import { adminRoutes, type Route } from './admin-routes.js'
import { errorResponse, HttpError } from './http-error.js'

export type { AdminErrorCode } from './http-error.js'

/** Options of {@link createAdminHandler}. */
export interface AdminOptions {
  /**
   * Decides every request, before anything else is looked at: `true` lets it through;
   * `false` (or anything but `true`) denies it with 401 (no `Authorization` header) or 403;
   * a `Response` is sent as it is (your own 401 with a login URL, a 429...). If it throws,
   * the request is denied with a 500.
   */
  authorize: (request: Request) => boolean | Response | Promise<boolean | Response>
  /** Where the routes are mounted, such as `'/cache'`. Default `''`: at the root. */
  basePath?: string
  /** Largest request body, counted while it is read. Default `'64kb'`. */
  maxBodyBytes?: Size
  /**
   * Whether key inspection may show values when asked with `?value=true`. Default true;
   * `false`: values are never shown (asking is a 403).
   */
  values?: boolean
  /**
   * Told about every failure answered with a 5xx (the answer itself says only "internal
   * error"). Default: `console.error`.
   */
  onError?: (error: unknown, request: Request) => void
}

const OPTION_KEYS: ReadonlySet<string> = new Set([
  'authorize',
  'basePath',
  'maxBodyBytes',
  'values',
  'onError',
])
const BASE_PATH_RE = /^(?:\/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)*$/
/** Cache error codes that mean the request was wrong, answered with 400. */
const INPUT_CODES: ReadonlySet<string> = new Set(['E_INVALID_KEY', 'E_INVALID_OPTION'])
/** Cache error codes answered with their message (they name no value) and this status. */
const CACHE_STATUS: Readonly<Record<string, number>> = {
  E_INVALID_KEY: 400,
  E_INVALID_OPTION: 400,
  E_TIMEOUT: 504,
  E_LAYER: 503,
  E_CLOSED: 503,
}

/**
 * A management endpoint for `cache` on web-standard `Request`/`Response`: stats (and reset),
 * policies, health, invalidation by tags, keys or prefix, clear, warmers, and one key's
 * envelope in each layer. Every request is denied unless `authorize(request)` returns `true`;
 * bodies are size-limited JSON; answers are JSON with `Cache-Control: no-store`. See
 * docs/admin.md for the routes and status codes.
 *
 * @example
 * const admin = createAdminHandler(cache, {
 *   basePath: '/cache',
 *   authorize: (request) => request.headers.get('authorization') === `Bearer ${process.env.ADMIN_TOKEN}`,
 * })
 * // Hono: app.all('/cache/*', (c) => admin(c.req.raw))
 * // node:http, Express: app.use('/cache', toNodeHandler(admin))
 */
export function createAdminHandler(
  cache: Cache,
  options: AdminOptions,
): (request: Request) => Promise<Response> {
  const settings = resolveOptions(options)
  const routes = adminRoutes(cache, settings)
  const { authorize, basePath, onError } = settings

  return async (request) => {
    const path = new URL(request.url).pathname
    // Outside the base path the request is not addressed to this endpoint: no authorize call.
    if (path !== basePath && !path.startsWith(`${basePath}/`)) return notFound()
    try {
      const denied = await checkAccess(authorize, request)
      if (denied) return denied
    } catch (error) {
      onError(error, request)
      return errorResponse(
        new HttpError(500, 'E_INTERNAL', 'authorize() failed: the request is denied'),
      )
    }
    try {
      const response = await dispatch(routes, request, path.slice(basePath.length))
      // HEAD is GET without a body.
      return request.method === 'HEAD' ? new Response(null, response) : response
    } catch (error) {
      return failure(error, request, onError)
    }
  }
}

interface Settings {
  authorize: AdminOptions['authorize']
  basePath: string
  maxBodyBytes: number
  values: boolean
  onError: (error: unknown, request: Request) => void
}

function resolveOptions(options: AdminOptions): Settings {
  checkObject(options, 'admin options', OPTION_KEYS)
  const { authorize, basePath = '', maxBodyBytes = '64kb', values = true, onError } = options
  if (typeof authorize !== 'function') {
    throw invalidOption(
      'admin options.authorize',
      `is required: a function of the request returning true to allow it, got ${describe(authorize)}`,
    )
  }
  const base = typeof basePath === 'string' ? basePath.replace(/\/+$/, '') : basePath
  if (typeof base !== 'string' || !BASE_PATH_RE.test(base)) {
    throw invalidOption(
      'admin options.basePath',
      `must be a path such as '/cache' (or '' for the root), got ${describe(basePath)}`,
    )
  }
  if (typeof values !== 'boolean')
    throw invalidOption('admin options.values', `must be true or false, got ${describe(values)}`)
  if (onError !== undefined && typeof onError !== 'function')
    throw invalidOption('admin options.onError', `must be a function, got ${describe(onError)}`)
  return {
    authorize,
    basePath: base,
    maxBodyBytes: parseSize(maxBodyBytes, 'admin options.maxBodyBytes'),
    values,
    onError: onError ?? ((error) => console.error('layercache admin:', error)),
  }
}

/** `undefined` when `authorize` lets the request through, else the answer that denies it. */
async function checkAccess(
  authorize: AdminOptions['authorize'],
  request: Request,
): Promise<Response | undefined> {
  const verdict = await authorize(request)
  if (verdict === true) return undefined
  if (isResponse(verdict)) return verdict
  if (!request.headers.has('authorization')) {
    return errorResponse(
      new HttpError(401, 'E_UNAUTHORIZED', 'authorization is required', {
        'www-authenticate': 'Bearer realm="layercache"',
      }),
    )
  }
  return errorResponse(new HttpError(403, 'E_FORBIDDEN', 'these credentials are not allowed here'))
}

/** A `Response`, also one made by another realm's `fetch` implementation. */
function isResponse(value: unknown): value is Response {
  if (value instanceof Response) return true
  const candidate = value as Partial<Response> | null
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof candidate.status === 'number' &&
    typeof candidate.headers === 'object'
  )
}

async function dispatch(routes: readonly Route[], request: Request, rest: string) {
  const segments = rest.split('/').slice(1)
  if (segments.length > 0 && segments.at(-1) === '') segments.pop() // a trailing slash
  for (const route of routes) {
    const params = match(route.path, segments)
    if (params === undefined) continue
    const method = request.method === 'HEAD' ? 'GET' : request.method
    const run = route.methods[method]
    if (!run) {
      const allow = Object.keys(route.methods).flatMap((m) => (m === 'GET' ? ['GET', 'HEAD'] : m))
      throw new HttpError(
        405,
        'E_METHOD',
        `${request.method} is not allowed here; use ${allow.join(' or ')}`,
        { allow: allow.join(', ') },
      )
    }
    return run({ request, url: new URL(request.url), params })
  }
  return notFound()
}

/** The decoded `:params` of `segments` when they match `path`. */
function match(path: readonly string[], segments: readonly string[]): string[] | undefined {
  if (path.length !== segments.length) return undefined
  const params: string[] = []
  for (let i = 0; i < path.length; i++) {
    const expected = path[i]!
    const segment = segments[i]!
    if (expected.startsWith(':')) {
      if (segment === '') return undefined
      try {
        params.push(decodeURIComponent(segment))
      } catch {
        throw new HttpError(
          400,
          'E_BAD_REQUEST',
          `the ${expected.slice(1)} in the path is not valid percent-encoding`,
        )
      }
    } else if (segment !== expected) return undefined
  }
  return params
}

function notFound(): Response {
  return errorResponse(new HttpError(404, 'E_NOT_FOUND', 'no such route'))
}

/** The answer for an error a route threw. Only cache and HTTP errors say what went wrong. */
function failure(
  error: unknown,
  request: Request,
  onError: (error: unknown, request: Request) => void,
): Response {
  if (error instanceof HttpError) return errorResponse(error)
  // By shape, not `instanceof`: an application may load one entry's ESM build and another's
  // CommonJS build (each format has its own CacheError class).
  const { name, code, message } = (error ?? {}) as {
    name?: unknown
    code?: unknown
    message?: unknown
  }
  if (name === 'CacheError' && typeof code === 'string' && code in CACHE_STATUS) {
    const status = CACHE_STATUS[code]!
    if (!INPUT_CODES.has(code)) onError(error, request)
    return errorResponse(new HttpError(status, code, String(message)))
  }
  onError(error, request)
  return errorResponse(new HttpError(500, 'E_INTERNAL', 'internal error'))
}
