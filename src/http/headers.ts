// Stub: being written (see .work-spec-http.md).
import type { CacheResult, Duration, EntryInfo } from '../index.js'

export interface HttpCachePolicy {
  visibility?: 'public' | 'private'
  maxAge?: Duration
  sMaxAge?: Duration
  staleWhileRevalidate?: Duration
  staleIfError?: Duration
  immutable?: boolean
  noStore?: boolean
  cdn?: { maxAge?: Duration; staleWhileRevalidate?: Duration; staleIfError?: Duration }
  surrogate?: { maxAge?: Duration; staleWhileRevalidate?: Duration; staleIfError?: Duration }
  vary?: readonly string[]
}
export interface RespondOptions {
  key?: string
  policy?: HttpCachePolicy
  status?: number
  headers?: ConstructorParameters<typeof Headers>[0]
}
export function cacheControl(_policy: HttpCachePolicy, _entry?: EntryInfo): string {
  throw new Error('todo')
}
export function cacheHeaders(
  _result: CacheResult<unknown>,
  _policy?: HttpCachePolicy,
  _init?: ConstructorParameters<typeof Headers>[0],
): Headers {
  throw new Error('todo')
}
export function entityTag(_key: string, _entry: EntryInfo): string {
  throw new Error('todo')
}
export function ifNoneMatch(_request: Request, _etag: string): boolean {
  throw new Error('todo')
}
export function notModified(_request: Request, _headers: Headers): Response | undefined {
  throw new Error('todo')
}
export function respond(
  _request: Request,
  _result: CacheResult<unknown>,
  _options?: RespondOptions,
): Response {
  throw new Error('todo')
}
