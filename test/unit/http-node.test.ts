import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createAdminHandler } from '../../src/http/admin.js'
import { type NodeRequestLike, type NodeResponseLike, toNodeHandler } from '../../src/http/node.js'
import { createCache } from '../../src/index.js'

const closers: (() => Promise<void>)[] = []
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()))
})

/** A real node:http server on a free loopback port. */
async function serve(listener: (req: IncomingMessage, res: ServerResponse) => void) {
  const server = createServer(listener)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  closers.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  )
  return `http://127.0.0.1:${port}`
}

/** The request the handler was given, as plain data. */
async function describeRequest(request: Request) {
  return Response.json({
    method: request.method,
    url: request.url,
    headers: Object.fromEntries(request.headers),
    body: request.body ? await request.text() : null,
  })
}

/** A request-like object with the given chunks, for the cases a real server cannot make. */
function fakeRequest(fields: Partial<NodeRequestLike>, chunks: unknown[] = []): NodeRequestLike {
  return {
    method: 'GET',
    url: '/',
    headers: {},
    async *[Symbol.asyncIterator]() {
      yield* chunks
    },
    ...fields,
  }
}

/** A response-like object recording what was written. */
function fakeResponse() {
  const res = {
    statusCode: 200,
    headers: {} as Record<string, string | string[]>,
    chunks: [] as Uint8Array[],
    ended: false,
    setHeader(name: string, value: string | string[]) {
      res.headers[name] = value
    },
    write(chunk: Uint8Array) {
      res.chunks.push(chunk)
      return true
    },
    end() {
      res.ended = true
    },
  } satisfies NodeResponseLike & Record<string, unknown>
  return res
}

describe('toNodeHandler with the admin handler', () => {
  function adminServer() {
    const cache = createCache()
    const admin = createAdminHandler(cache, {
      basePath: '/cache',
      maxBodyBytes: '1kb',
      authorize: (request) => request.headers.get('authorization') === 'Bearer t',
    })
    return { cache, start: () => serve(toNodeHandler(admin)) }
  }

  it('serves the routes, with authorization and a streamed JSON body', async () => {
    const { cache, start } = adminServer()
    const url = await start()
    const denied = await fetch(`${url}/cache/stats`)
    expect(denied.status).toBe(401)
    expect(denied.headers.get('www-authenticate')).toMatch(/^Bearer/)
    await denied.body?.cancel()

    await cache.set('user:1', 'a', { tags: ['users'] })
    const response = await fetch(`${url}/cache/invalidate`, {
      method: 'POST',
      headers: { authorization: 'Bearer t', 'content-type': 'application/json' },
      body: JSON.stringify({ tags: ['users'] }),
    })
    expect(response.status).toBe(200)
    expect(response.headers.get('cache-control')).toBe('no-store')
    expect(await response.json()).toMatchObject({ ok: true, tags: 1 })
    expect(await cache.get('user:1')).toBeUndefined()
  })

  it("answers the admin handler's 413 for a chunked body over its limit, and keeps serving", async () => {
    const { start } = adminServer()
    const url = await start()
    const chunks = Array.from({ length: 64 }, () => new TextEncoder().encode(' '.repeat(1024)))
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        const chunk = chunks.shift()
        if (chunk) controller.enqueue(chunk)
        else controller.close()
      },
    })
    const response = await fetch(`${url}/cache/invalidate`, {
      method: 'POST',
      headers: { authorization: 'Bearer t', 'content-type': 'application/json' },
      body,
      duplex: 'half',
    } as RequestInit)
    expect(response.status).toBe(413)
    expect(await response.json()).toMatchObject({ error: { code: 'E_BODY_TOO_LARGE' } })
    const after = await fetch(`${url}/cache/stats`, { headers: { authorization: 'Bearer t' } })
    expect(after.status).toBe(200)
    await after.body?.cancel()
  })
})

describe('toNodeHandler: the request', () => {
  it('passes method, full URL, headers and the streamed body', async () => {
    const url = await serve(toNodeHandler(describeRequest))
    const response = await fetch(`${url}/a/b?c=1`, {
      method: 'PUT',
      headers: { 'x-one': '1', 'content-type': 'text/plain' },
      body: 'hello body',
    })
    const seen = (await response.json()) as Record<string, unknown>
    expect(seen).toMatchObject({
      method: 'PUT',
      url: `${url}/a/b?c=1`,
      headers: { 'x-one': '1', 'content-type': 'text/plain' },
      body: 'hello body',
    })
  })

  it('uses originalUrl when a router shortened url (Express mounts)', async () => {
    const node = toNodeHandler(describeRequest)
    const url = await serve((req, res) => {
      const mounted = Object.assign(req, { originalUrl: req.url })
      mounted.url = req.url!.slice('/cache'.length) || '/'
      void node(mounted, res)
    })
    const seen = (await (await fetch(`${url}/cache/stats?x=1`)).json()) as { url: string }
    expect(seen.url).toBe(`${url}/cache/stats?x=1`)
  })

  it('builds the URL from Host, TLS and X-Forwarded-Proto, and distrusts a Host that is not one', async () => {
    const cases: [Partial<NodeRequestLike>, string][] = [
      [{ headers: { host: 'api.example.com:8080' }, url: '/x' }, 'http://api.example.com:8080/x'],
      [{ headers: { host: 'h', 'x-forwarded-proto': 'https, http' } }, 'https://h/'],
      [{ headers: { host: 'h' }, socket: { encrypted: true } }, 'https://h/'],
      [{ headers: { host: 'evil/cache' }, url: '/stats' }, 'http://localhost/stats'],
      [{ headers: { host: 'user@h' }, url: '/stats' }, 'http://localhost/stats'],
      [{ headers: {}, url: '//other/stats' }, 'http://localhost//other/stats'],
      [{ headers: { host: 'h' }, url: 'http://proxy/abs?q=1' }, 'http://h/abs?q=1'],
      [{ headers: { ':authority': 'h2.example' }, url: '/p' }, 'http://h2.example/p'],
    ]
    for (const [fields, expected] of cases) {
      const res = fakeResponse()
      await toNodeHandler(describeRequest)(fakeRequest(fields), res)
      const seen = JSON.parse(new TextDecoder().decode(res.chunks[0])) as { url: string }
      expect(seen.url, JSON.stringify(fields)).toBe(expected)
    }
  })

  it('passes every value of a repeated header', async () => {
    const res = fakeResponse()
    const req = fakeRequest({ headers: { 'x-many': ['a', 'b'] } })
    await toNodeHandler(describeRequest)(req, res)
    const seen = JSON.parse(new TextDecoder().decode(res.chunks[0])) as {
      headers: Record<string, string>
    }
    expect(seen.headers['x-many']).toBe('a, b')
  })

  it('uses a body a framework already parsed: an object as JSON, a string or bytes as they are', async () => {
    const node = toNodeHandler(describeRequest)
    const url = await serve(async (req, res) => {
      let text = ''
      for await (const chunk of req) text += chunk
      const kind = req.headers['x-kind']
      const body =
        kind === 'object'
          ? JSON.parse(text)
          : kind === 'bytes'
            ? new TextEncoder().encode(text.toUpperCase())
            : `parsed:${text}`
      void node(Object.assign(req, { body }), res)
    })
    const send = async (kind: string, body: string) => {
      const response = await fetch(`${url}/`, {
        method: 'POST',
        headers: { 'x-kind': kind, 'content-type': 'application/json' },
        body,
      })
      return (await response.json()) as { body: string; headers: Record<string, string> }
    }
    const object = await send('object', '{ "a" : 1 }')
    expect(object.body).toBe('{"a":1}')
    expect(object.headers['content-length']).toBeUndefined() // re-serialized: not 11 any more
    expect(object.headers['content-type']).toBe('application/json')
    expect((await send('string', 'x')).body).toBe('parsed:x')
    expect((await send('bytes', 'abc')).body).toBe('ABC')
  })

  it('streams the body when req.body is set but the stream was never read (Express 4 sets {})', async () => {
    const node = toNodeHandler(describeRequest)
    const url = await serve((req, res) => void node(Object.assign(req, { body: {} }), res))
    const response = await fetch(`${url}/`, { method: 'POST', body: 'raw text' })
    expect(((await response.json()) as { body: string }).body).toBe('raw text')
  })

  it('gives GET and HEAD requests no body, whatever req.body holds', async () => {
    const res = fakeResponse()
    await toNodeHandler(describeRequest)(fakeRequest({ body: {} }, ['ignored']), res)
    const seen = JSON.parse(new TextDecoder().decode(res.chunks[0])) as { body: unknown }
    expect(seen.body).toBeNull()
  })
})

describe('toNodeHandler: maxBodyBytes', () => {
  it('answers 413 from Content-Length without calling the handler', async () => {
    const handler = vi.fn(describeRequest)
    const url = await serve(toNodeHandler(handler, { maxBodyBytes: 10 }))
    const response = await fetch(`${url}/`, { method: 'POST', body: 'x'.repeat(11) })
    expect(response.status).toBe(413)
    expect(await response.json()).toMatchObject({ error: { code: 'E_BODY_TOO_LARGE' } })
    expect(handler).not.toHaveBeenCalled()
  })

  it('answers 413 when a chunked body passes the limit while the handler reads it', async () => {
    const next = vi.fn()
    const node = toNodeHandler(async (request) => new Response(await request.text()), {
      maxBodyBytes: '1kb',
    })
    const url = await serve((req, res) => void node(req, res, next))
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 4; i++) controller.enqueue(new Uint8Array(512))
        controller.close()
      },
    })
    const response = await fetch(`${url}/`, { method: 'POST', body, duplex: 'half' } as RequestInit)
    expect(response.status).toBe(413)
    await response.body?.cancel()
    expect(next).not.toHaveBeenCalled() // the handler's failed read is not an error to pass on
  })

  it('refuses malformed options', () => {
    expect(() => toNodeHandler(describeRequest, { maxBodyBytes: 'big' })).toThrow(
      /toNodeHandler options\.maxBodyBytes/,
    )
    expect(() => toNodeHandler(describeRequest, { limit: 1 } as never)).toThrow(
      /toNodeHandler options\.limit/,
    )
    expect(() => toNodeHandler('admin' as never)).toThrow(/toNodeHandler handler/)
  })
})

describe('toNodeHandler: the response', () => {
  it('writes status, headers and every Set-Cookie apart', async () => {
    const url = await serve(
      toNodeHandler(() => {
        const headers = new Headers({ 'x-custom': 'yes', 'content-type': 'text/plain' })
        headers.append('set-cookie', 'a=1; Path=/')
        headers.append('set-cookie', 'b=2, with comma; Path=/')
        return new Response('created', { status: 201, statusText: 'Made', headers })
      }),
    )
    const response = await fetch(url)
    expect(response.status).toBe(201)
    expect(response.statusText).toBe('Made')
    expect(response.headers.get('x-custom')).toBe('yes')
    expect(response.headers.getSetCookie()).toEqual(['a=1; Path=/', 'b=2, with comma; Path=/'])
    expect(await response.text()).toBe('created')
  })

  it('streams the body: the client reads a chunk before the handler produced the next', async () => {
    let release!: () => void
    const released = new Promise<void>((resolve) => {
      release = resolve
    })
    const url = await serve(
      toNodeHandler(
        () =>
          new Response(
            new ReadableStream<Uint8Array>({
              async start(controller) {
                controller.enqueue(new TextEncoder().encode('first;'))
                await released
                controller.enqueue(new TextEncoder().encode('second'))
                controller.close()
              },
            }),
          ),
      ),
    )
    const response = await fetch(url)
    const reader = response.body!.getReader()
    const first = await reader.read()
    expect(new TextDecoder().decode(first.value)).toBe('first;')
    release()
    let rest = ''
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read())
      rest += new TextDecoder().decode(chunk.value)
    expect(rest).toBe('second')
  })

  it('stops reading the body of the answer when the client goes away', async () => {
    const cancelled = vi.fn()
    const url = await serve(
      toNodeHandler(
        () =>
          new Response(
            new ReadableStream<Uint8Array>({
              start: (controller) => controller.enqueue(new Uint8Array(1024)),
              pull: () => new Promise(() => {}), // waits for ever for its next chunk
              cancel: cancelled,
            }),
          ),
      ),
    )
    const abort = new AbortController()
    const response = await fetch(url, { signal: abort.signal })
    await response.body!.getReader().read()
    abort.abort()
    await vi.waitFor(() => expect(cancelled).toHaveBeenCalled(), { timeout: 2_000 })
  })

  it('writes no body for HEAD (and no body for 204 and 304)', async () => {
    for (const [method, status] of [
      ['HEAD', 200],
      ['GET', 204],
      ['GET', 304],
    ] as const) {
      const res = fakeResponse()
      const handler = () =>
        new Response(status === 200 ? 'body' : null, {
          status,
          headers: { 'content-type': 'text/plain' },
        })
      await toNodeHandler(handler)(fakeRequest({ method }), res)
      expect(res.statusCode).toBe(status)
      expect(res.chunks).toEqual([])
      expect(res.ended).toBe(true)
    }
    const res = fakeResponse()
    await toNodeHandler(() => new Response('body', { headers: { 'content-type': 'text/plain' } }))(
      fakeRequest({ method: 'HEAD' }),
      res,
    )
    expect(res.headers['content-type']).toBe('text/plain')
  })

  it('reads a half-read request body to its end, so the connection serves the next request', async () => {
    const url = await serve(
      toNodeHandler(async (request) => {
        await request.body!.getReader().read() // one chunk, then answer
        return new Response('early')
      }),
    )
    const agent = new Agent({ keepAlive: true, maxSockets: 1 })
    closers.push(async () => agent.destroy())
    const send = (body: Uint8Array) =>
      new Promise<string>((resolve, reject) => {
        const req = httpRequest(`${url}/`, { method: 'POST', agent }, (res) => {
          let text = ''
          res.on('data', (chunk) => {
            text += chunk
          })
          res.on('end', () => resolve(text))
        })
        req.on('error', reject)
        req.end(body)
      })
    expect(await send(new Uint8Array(4 * 1024 * 1024))).toBe('early')
    expect(await send(new Uint8Array(10))).toBe('early')
  })
})

describe('toNodeHandler: errors', () => {
  it('passes a handler error to next', async () => {
    const failure = new Error('boom')
    const node = toNodeHandler(() => {
      throw failure
    })
    const seen: unknown[] = []
    const url = await serve((req, res) => {
      void node(req, res, (error) => {
        seen.push(error)
        res.statusCode = 502
        res.end('from next')
      })
    })
    const response = await fetch(url)
    expect(response.status).toBe(502)
    expect(await response.text()).toBe('from next')
    expect(seen).toEqual([failure])
  })

  it('answers 500 without the message when there is no next', async () => {
    const url = await serve(
      toNodeHandler(async () => {
        throw new Error('secret detail')
      }),
    )
    const response = await fetch(url)
    expect(response.status).toBe(500)
    const text = await response.text()
    expect(JSON.parse(text)).toEqual({ error: { code: 'E_INTERNAL', message: 'internal error' } })
    expect(text).not.toContain('secret')
  })

  it('treats a handler that resolves to something else than a Response as an error', async () => {
    const next = vi.fn()
    const res = fakeResponse()
    await toNodeHandler(async () => 'nope' as unknown as Response)(fakeRequest({}), res, next)
    expect(next).toHaveBeenCalledWith(expect.any(TypeError))
    expect(res.ended).toBe(false)
  })
})
