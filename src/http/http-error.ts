/**
 * Stable codes of the errors the management endpoint answers with, in
 * `{ error: { code, message } }`. Errors from the cache keep their own code (`E_INVALID_KEY`,
 * `E_INVALID_OPTION`, `E_TIMEOUT`, ...).
 */
export type AdminErrorCode =
  | 'E_UNAUTHORIZED'
  | 'E_FORBIDDEN'
  | 'E_VALUES_DISABLED'
  | 'E_NOT_FOUND'
  | 'E_METHOD'
  | 'E_BAD_REQUEST'
  | 'E_BODY_TOO_LARGE'
  | 'E_UNSUPPORTED_MEDIA_TYPE'
  | 'E_INTERNAL'

/** An answer other than success, thrown by a route and sent as a JSON error. */
export class HttpError extends Error {
  readonly status: number
  readonly code: string
  readonly headers: Readonly<Record<string, string>> | undefined

  constructor(status: number, code: string, message: string, headers?: Record<string, string>) {
    super(message)
    this.name = 'HttpError'
    this.status = status
    this.code = code
    this.headers = headers
  }
}

/** Shorthand for a 400: `message` names the offending field or parameter. */
export function badRequest(message: string): HttpError {
  return new HttpError(400, 'E_BAD_REQUEST', message)
}

/** A JSON response that no cache may store (`Cache-Control: no-store`). */
export function jsonResponse(
  status: number,
  body: unknown,
  headers?: Readonly<Record<string, string>>,
): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: {
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      ...headers,
    },
  })
}

/** `{ error: { code, message } }` with the error's status and headers. */
export function errorResponse(error: HttpError): Response {
  return jsonResponse(
    error.status,
    { error: { code: error.code, message: error.message } },
    error.headers,
  )
}
