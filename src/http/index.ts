/**
 * `layercache/http`: HTTP caching on web-standard `Request`/`Response` (Node 20+, Bun, Deno,
 * edge runtimes): response headers from a policy, ETags and conditional requests, a whole-
 * response cache, a management endpoint, and an adapter for `node:http`-style servers.
 * Imports no `node:` module.
 */
export { type AdminErrorCode, type AdminOptions, createAdminHandler } from './admin.js'
export {
  cacheControl,
  cacheHeaders,
  entityTag,
  type HeadersLike,
  type HttpCachePolicy,
  ifNoneMatch,
  notModified,
  type RespondOptions,
  respond,
  type SharedCacheDirectives,
} from './headers.js'
export { toJsonSafe } from './json-safe.js'
export {
  type NodeHandler,
  type NodeHandlerOptions,
  type NodeRequestLike,
  type NodeResponseLike,
  toNodeHandler,
} from './node.js'
export { type ResponseCacheOptions, type StoredResponse, withCache } from './response-cache.js'
