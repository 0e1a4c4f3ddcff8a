import { parseSize, type Size } from '../core/durations.js'
import { describe, invalidOption } from '../core/errors.js'
import { errorResponse, HttpError } from './http-error.js'

/** Options of {@link toNodeHandler}. */
export interface NodeHandlerOptions {
  /**
   * Largest request body passed on, counted while it streams (and checked against
   * `Content-Length` first): a larger one is answered with 413. Default: no limit here (the
   * handler sets its own; the admin handler's is `maxBodyBytes`).
   */
  maxBodyBytes?: Size
}

/**
 * What the adapter needs of a `node:http` `IncomingMessage` (or an Express / Connect /
 * Fastify-raw request): described by shape, so that no `node:` module is imported.
 */
export interface NodeRequestLike extends AsyncIterable<unknown> {
  method?: string | undefined
  url?: string | undefined
  /** Express's full URL, kept when a router strips its mount path from `url`. */
  originalUrl?: string | undefined
  headers: Record<string, string | string[] | undefined>
  /** A body a framework already read and parsed; used instead of the stream. */
  body?: unknown
  /** `false` while the body stream has not been read (so `body` is not its content). */
  readableEnded?: boolean
  /** With `encrypted: true` (a TLS socket), the URL is `https`. */
  socket?: object | null
}

/** What the adapter needs of a `node:http` `ServerResponse`. */
export interface NodeResponseLike {
  statusCode: number
  statusMessage?: string
  readonly headersSent?: boolean
  setHeader(name: string, value: string | string[]): unknown
  write(chunk: Uint8Array): boolean
  end(): unknown
  once?(event: 'drain' | 'close', listener: () => void): unknown
  destroy?(error?: Error): unknown
}

/** A `node:http`-style request listener, or an Express / Connect middleware with `next`. */
export type NodeHandler = (
  req: NodeRequestLike,
  res: NodeResponseLike,
  next?: (error?: unknown) => void,
) => Promise<void>

/** Where the request body stands: read to its end, started, or over the limit. */
interface Upload {
  iterator: AsyncIterator<unknown> | undefined
  done: boolean
  tooLarge: boolean
}

const HOST_RE = /^[A-Za-z0-9.\-_~%!$&'()*+,;=:[\]]+$/
const encoder = new TextEncoder()

/**
 * Serves a web-standard handler (`(request: Request) => Promise<Response>`, such as the admin
 * handler) from `node:http`, Express, Connect or a hijacked Fastify reply. The `Request` gets
 * the full URL (`req.originalUrl ?? req.url`, the `Host` header, `https` behind TLS or
 * `X-Forwarded-Proto: https`), the headers and the body, streamed, or the one a framework
 * already parsed (`req.body`: an object is sent as JSON, a string or bytes as they are). The
 * `Response` is streamed back; every `Set-Cookie` is kept; `HEAD` gets no body. When the
 * handler throws, `next(error)` is called if given, else a 500 is sent. The returned promise
 * settles once the answer is written, and never rejects.
 *
 * @example
 * import { createServer } from 'node:http'
 * createServer(toNodeHandler(admin)).listen(8080)
 * // Express, with the admin handler's basePath '/cache':
 * app.use('/cache', toNodeHandler(admin))
 */
export function toNodeHandler(
  handler: (request: Request) => Response | Promise<Response>,
  options: NodeHandlerOptions = {},
): NodeHandler {
  if (typeof handler !== 'function')
    throw invalidOption('toNodeHandler handler', `must be a function, got ${describe(handler)}`)
  if (typeof options !== 'object' || options === null)
    throw invalidOption('toNodeHandler options', `must be an object, got ${describe(options)}`)
  for (const key in options) {
    if (key !== 'maxBodyBytes')
      throw invalidOption(
        `toNodeHandler options.${key}`,
        'is not a known option (known: maxBodyBytes)',
      )
  }
  const limit =
    options.maxBodyBytes === undefined
      ? Number.POSITIVE_INFINITY
      : parseSize(options.maxBodyBytes, 'toNodeHandler options.maxBodyBytes')

  return async (req, res, next) => {
    const upload: Upload = { iterator: undefined, done: false, tooLarge: false }
    let response: Response | undefined
    try {
      response = await answer(handler, req, limit, upload)
    } catch (error) {
      if (!upload.tooLarge && next) {
        finishUpload(upload)
        return next(error)
      }
      response = errorResponse(new HttpError(500, 'E_INTERNAL', 'internal error'))
    }
    // Over the limit wins: the handler saw a failed read, whatever it answered.
    if (upload.tooLarge || response === undefined) {
      response = errorResponse(
        new HttpError(413, 'E_BODY_TOO_LARGE', `the body exceeds the limit of ${limit} bytes`),
      )
    }
    finishUpload(upload)
    try {
      await writeResponse(res, response, (req.method ?? 'GET').toUpperCase() === 'HEAD')
    } catch (error) {
      res.destroy?.(error instanceof Error ? error : undefined)
    }
  }
}

/** The handler's answer, or `undefined` when `Content-Length` is over the limit. */
async function answer(
  handler: (request: Request) => Response | Promise<Response>,
  req: NodeRequestLike,
  limit: number,
  upload: Upload,
): Promise<Response | undefined> {
  if (Number(firstHeader(req.headers['content-length'])) > limit) {
    upload.tooLarge = true
    return undefined
  }
  const response = await handler(toRequest(req, limit, upload))
  if (typeof (response as Partial<Response> | undefined)?.status !== 'number')
    throw new TypeError(`the handler must resolve to a Response, got ${describe(response)}`)
  return response
}

/**
 * A body the handler left half read is read to its end (as node:http does for one never
 * touched), so that the connection can serve its next request.
 */
function finishUpload(upload: Upload): void {
  if (upload.iterator && !upload.done) void drain(upload.iterator)
}

function firstHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value
}

/** The web `Request` for `req`: full URL, headers, and its body (streamed or pre-parsed). */
function toRequest(req: NodeRequestLike, limit: number, upload: Upload): Request {
  const method = (req.method ?? 'GET').toUpperCase()
  const headers = new Headers()
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || name.startsWith(':')) continue // HTTP/2 pseudo-headers
    if (Array.isArray(value)) for (const item of value) headers.append(name, item)
    else headers.set(name, value)
  }
  const init: RequestInit & { duplex?: 'half' } = { method, headers }
  if (method !== 'GET' && method !== 'HEAD') {
    const parsed = parsedBody(req)
    if (parsed === undefined) {
      init.body = bodyStream(req, limit, upload)
      init.duplex = 'half'
    } else {
      // The body was decoded and may have been re-serialized: its length and encoding changed.
      headers.delete('content-length')
      headers.delete('content-encoding')
      headers.delete('transfer-encoding')
      if (
        typeof parsed === 'string'
          ? encoder.encode(parsed).byteLength > limit
          : parsed.byteLength > limit
      )
        upload.tooLarge = true
      init.body = parsed
    }
  }
  return new Request(requestUrl(req, headers), init)
}

/** `req.body` when a framework read the stream into it, as text or bytes. */
function parsedBody(req: NodeRequestLike): string | Uint8Array | undefined {
  const body = req.body
  // Express 4 sets `req.body = {}` even when its parser skipped the request: then the stream
  // is still unread, and is the body.
  if (body === undefined || body === null || req.readableEnded === false) return undefined
  if (typeof body === 'string' || body instanceof Uint8Array) return body
  return JSON.stringify(body)
}

/** The request body as a web stream, read only as the handler asks for it (backpressure). */
function bodyStream(req: NodeRequestLike, limit: number, upload: Upload) {
  let size = 0
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        upload.iterator ??= req[Symbol.asyncIterator]()
        let next: IteratorResult<unknown>
        try {
          next = await upload.iterator.next()
        } catch (error) {
          upload.done = true
          controller.error(error)
          return
        }
        if (next.done) {
          upload.done = true
          controller.close()
          return
        }
        const chunk = toBytes(next.value)
        size += chunk.byteLength
        if (size > limit) {
          upload.tooLarge = true
          controller.error(new HttpError(413, 'E_BODY_TOO_LARGE', 'the body is too large'))
          return
        }
        controller.enqueue(chunk)
      },
      // Nothing to do on cancel: destroying `req` would close the socket before the answer.
    },
    { highWaterMark: 0 },
  )
}

function toBytes(chunk: unknown): Uint8Array {
  if (typeof chunk === 'string') return encoder.encode(chunk)
  if (chunk instanceof Uint8Array)
    return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk)
  throw new TypeError(`a request body chunk must be bytes or a string, got ${describe(chunk)}`)
}

/** Reads what is left of a body, discarding it. */
async function drain(iterator: AsyncIterator<unknown>): Promise<void> {
  try {
    while (!(await iterator.next()).done) {}
  } catch {
    // The client went away: there is nothing left to read.
  }
}

/** The full URL of `req`, which a router may have shortened (Express keeps `originalUrl`). */
function requestUrl(req: NodeRequestLike, headers: Headers): string {
  const socket = req.socket as { encrypted?: unknown } | null | undefined
  const forwarded = headers.get('x-forwarded-proto')?.split(',')[0]?.trim().toLowerCase()
  const scheme =
    forwarded === 'https' || forwarded === 'http'
      ? forwarded
      : socket?.encrypted === true
        ? 'https'
        : 'http'
  const hostHeader = headers.get('host') ?? firstHeader(req.headers[':authority'])
  // A Host that is not a host (with '/', '@', '?', ...) could move the path: not trusted.
  const host = hostHeader && HOST_RE.test(hostHeader) ? hostHeader : 'localhost'
  let path = req.originalUrl ?? req.url ?? '/'
  if (!path.startsWith('/')) {
    // The absolute form (`GET http://host/path`), or `OPTIONS *`.
    try {
      const absolute = new URL(path)
      path = absolute.pathname + absolute.search
    } catch {
      path = '/'
    }
  }
  try {
    return new URL(`${scheme}://${host}${path}`).href
  } catch {
    return new URL(`${scheme}://localhost${path}`).href
  }
}

/** Writes status, headers (every `Set-Cookie` apart) and the streamed body. */
async function writeResponse(
  res: NodeResponseLike,
  response: Response,
  head: boolean,
): Promise<void> {
  res.statusCode = response.status
  if (response.statusText) res.statusMessage = response.statusText
  const cookies: string[] = []
  for (const [name, value] of response.headers) {
    if (name === 'set-cookie') cookies.push(value)
    else res.setHeader(name, value)
  }
  // Iterating Headers yields each Set-Cookie apart on current runtimes; getSetCookie() is exact.
  const all = (response.headers as { getSetCookie?: () => string[] }).getSetCookie?.() ?? cookies
  if (all.length > 0) res.setHeader('set-cookie', all)
  const body = response.body
  if (body === null || head || response.status === 204 || response.status === 304) {
    body?.cancel().catch(() => {}) // unread by design; a failed cancel changes nothing
    res.end()
    return
  }
  const reader = body.getReader()
  let closed = false
  const gone = new Promise<void>((resolve) =>
    res.once?.('close', () => {
      // Also fired once a response is done. Before that, the client left: stop the producer,
      // even one that is waiting for something before its next chunk.
      closed = true
      reader.cancel().catch(() => {})
      resolve()
    }),
  )
  for (;;) {
    const chunk = await reader.read()
    if (chunk.done || closed) break
    if (!res.write(chunk.value) && res.once) {
      await Promise.race([new Promise<void>((resolve) => res.once!('drain', resolve)), gone])
    }
  }
  if (!closed) res.end()
}
