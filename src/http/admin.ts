// Stub: being written by the admin helper (see .work-spec-http.md).
import type { Cache, Size } from '../index.js'

export interface AdminOptions {
  authorize: (request: Request) => boolean | Response | Promise<boolean | Response>
  basePath?: string
  maxBodyBytes?: Size
  values?: boolean
}
export function createAdminHandler(
  _cache: Cache,
  _options: AdminOptions,
): (request: Request) => Promise<Response> {
  throw new Error('todo')
}
