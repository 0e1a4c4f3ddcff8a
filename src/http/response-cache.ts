// Stub: being written (see .work-spec-http.md).
import type { Cache, Duration } from '../index.js'
import type { HttpCachePolicy } from './headers.js'

export interface ResponseCacheOptions {
  key?: (request: Request) => string
  vary?: readonly string[]
  tags?: readonly string[] | ((request: Request) => readonly string[])
  policy?: string
  ttl?: Duration
  http?: HttpCachePolicy
  statuses?: readonly number[]
}
export function withCache(
  _cache: Cache,
  _handler: (request: Request) => Response | Promise<Response>,
  _options?: ResponseCacheOptions,
): (request: Request) => Promise<Response> {
  throw new Error('todo')
}
