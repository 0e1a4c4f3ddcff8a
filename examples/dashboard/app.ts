// The dashboard app, framework-neutral: the cache (memory only, or memory over Redis with the
// bus when a Redis URL is given), the service, the API handler and the admin handler. Each
// server in examples/servers/ mounts `handle` and `admin`, which take a web `Request` and
// answer a `Response`.
// In your application, import from 'layercache', 'layercache/http' and 'layercache/redis'.
import { createHash, timingSafeEqual } from 'node:crypto'
import { createAdminHandler } from '../../src/http/index.js'
import { type Cache, createCache, type Layer, memoryLayer } from '../../src/index.js'
import { type RedisBus, redisBus, redisLayer } from '../../src/redis/index.js'
import { Database } from './database.js'
import { createApiHandler } from './routes.js'
import { DashboardService } from './service.js'

export interface DashboardAppOptions {
  /** Memory over Redis, and a Redis bus between instances. Default: memory only. */
  redisUrl?: string
  /** Keep the database in this JSON file (instances that share it share their data). Default: memory. */
  databaseFile?: string
  /** The Bearer token of the admin routes. Default 'dev-admin-token'. */
  adminToken?: string
}

export interface DashboardApp {
  cache: Cache
  database: Database
  service: DashboardService
  /** The API routes (/api/..., /healthz). */
  handle: (request: Request) => Promise<Response>
  /** The cache's management endpoint, for requests under /cache. */
  admin: (request: Request) => Promise<Response>
  /** Closes the cache (its Redis connections and bus included). Close the server first. */
  close: () => Promise<void>
}

/** Where each server mounts the admin handler. */
export const ADMIN_BASE_PATH = '/cache'

/**
 * Creates the dashboard; with Redis, resolves once the bus listens (or after 2 s without it:
 * the cache fails open, and the bus catches up when Redis answers).
 */
export async function createDashboardApp(options: DashboardAppOptions = {}): Promise<DashboardApp> {
  const { redisUrl, adminToken = 'dev-admin-token' } = options
  const layers: Layer[] = [memoryLayer({ maxEntries: 10_000, maxBytes: '50mb' })]
  let bus: RedisBus | undefined
  if (redisUrl) {
    layers.push(redisLayer({ url: redisUrl }))
    bus = redisBus({ url: redisUrl })
  }
  const cache = createCache({
    namespace: 'dashboard',
    layers,
    ...(bus && { bus }),
    policies: {
      default: { ttl: '5m' },
      dashboard: { ttl: '5m', staleWhileRevalidate: '1m' },
      responses: { ttl: '30s' },
    },
  })
  cache.on('error', ({ operation, layer, error }) => {
    console.error(`cache ${operation}${layer ? ` (${layer})` : ''}: ${String(error)}`)
  })
  // Until the bus listens, this instance could miss another's invalidations: wait for it, as
  // a readiness probe would, before taking traffic.
  await bus?.ready().catch((error: unknown) => {
    console.error(`the Redis bus is not ready (${String(error)}); serving anyway`)
  })

  const database = new Database(options.databaseFile ? { file: options.databaseFile } : {})
  const service = new DashboardService(cache, database)
  return {
    cache,
    database,
    service,
    handle: createApiHandler(cache, service),
    admin: createAdminHandler(cache, {
      basePath: ADMIN_BASE_PATH,
      authorize: bearerToken(adminToken),
    }),
    close: () => cache.close(),
  }
}

/**
 * Lets in requests with `Authorization: Bearer <token>`. Anything else is denied by the admin
 * handler: 401 without an Authorization header, 403 with another.
 */
function bearerToken(token: string): (request: Request) => boolean {
  const digest = (text: string) => createHash('sha256').update(text).digest()
  const expected = digest(token)
  return (request) => {
    const given = /^Bearer +(\S+)$/i.exec(request.headers.get('authorization') ?? '')?.[1]
    // Equal-length digests compared in constant time: the timing tells nothing of the token.
    return given !== undefined && timingSafeEqual(digest(given), expected)
  }
}
