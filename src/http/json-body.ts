import { badRequest, HttpError } from './http-error.js'

const JSON_TYPE = /^application\/json\s*(?:;|$)/i

/** What {@link readJsonBody} needs to know. */
export interface JsonBodyOptions {
  /** Bytes a body may have, counted as it is read. */
  limit: number
  /** Whether an empty body is refused (400) rather than read as `undefined`. */
  required: boolean
}

/**
 * Reads the JSON object in `request`'s body. The `Content-Type` must be `application/json`
 * (with optional parameters) even for an empty body, so that a plain HTML form or a bodiless
 * cross-site `fetch` can never reach a mutating route (that header needs a CORS preflight).
 * Bodies over `limit` bytes are refused from their `Content-Length`, or while being read when
 * it is absent or lies. Answers `undefined` for an empty body when none is required.
 */
export async function readJsonBody(
  request: Request,
  options: JsonBodyOptions,
): Promise<Record<string, unknown> | undefined> {
  const type = request.headers.get('content-type')
  if (type === null || !JSON_TYPE.test(type)) {
    throw new HttpError(
      415,
      'E_UNSUPPORTED_MEDIA_TYPE',
      `the Content-Type must be application/json, got ${type === null ? 'none' : JSON.stringify(type)}`,
    )
  }
  const declared = request.headers.get('content-length')
  if (declared !== null && Number(declared) > options.limit) throw tooLarge(options.limit)
  const bytes = request.body ? await readLimited(request.body, options.limit) : new Uint8Array(0)
  if (bytes.byteLength === 0) {
    if (options.required) throw badRequest('a JSON object body is required')
    return undefined
  }
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    throw badRequest('the body is not valid UTF-8')
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (error) {
    throw badRequest(`the body is not valid JSON: ${(error as Error).message}`)
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw badRequest(
      `the body must be a JSON object, got ${Array.isArray(parsed) ? 'an array' : typeof parsed === 'object' ? 'null' : `a ${typeof parsed}`}`,
    )
  }
  return parsed as Record<string, unknown>
}

function tooLarge(limit: number): HttpError {
  return new HttpError(413, 'E_BODY_TOO_LARGE', `the body exceeds the limit of ${limit} bytes`)
}

/** The whole stream, refused once it passes `limit` bytes (the rest is never read). */
async function readLimited(body: ReadableStream<Uint8Array>, limit: number): Promise<Uint8Array> {
  const reader = body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    let chunk: Awaited<ReturnType<typeof reader.read>>
    try {
      chunk = await reader.read()
    } catch {
      throw badRequest('the body could not be read (the client went away?)')
    }
    if (chunk.done) break
    size += chunk.value.byteLength
    if (size > limit) {
      // Stop the upload; whether cancelling succeeds changes nothing about the answer.
      reader.cancel().catch(() => {})
      throw tooLarge(limit)
    }
    chunks.push(chunk.value)
  }
  const bytes = new Uint8Array(size)
  let at = 0
  for (const chunk of chunks) {
    bytes.set(chunk, at)
    at += chunk.byteLength
  }
  return bytes
}
