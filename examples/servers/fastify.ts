// The dashboard on Fastify 5: each route turns Fastify's request into a web Request, calls the
// web handler, and sends its Response through Fastify's reply (hooks and logging still apply).
// Bodies are kept as bytes: the web handlers parse and validate them, malformed JSON included.
//   npm run serve:fastify
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify'
import { ADMIN_BASE_PATH, createDashboardApp } from '../dashboard/app.js'
import { announce, exitOnSignals, serverSettings } from '../dashboard/server-process.js'

type WebHandler = (request: Request) => Promise<Response>

const settings = serverSettings()
const dashboard = await createDashboardApp(settings.app)

const app = Fastify()
app.removeAllContentTypeParsers()
app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body))

/** A Fastify route handler that answers with a web handler. */
function web(handler: WebHandler) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const response = await handler(toWebRequest(request))
    reply.code(response.status)
    response.headers.forEach((value, name) => {
      if (name !== 'set-cookie') reply.header(name, value)
    })
    const cookies = response.headers.getSetCookie()
    if (cookies.length > 0) reply.header('set-cookie', cookies)
    return reply.send(response.body ? Buffer.from(await response.arrayBuffer()) : undefined)
  }
}

function toWebRequest(request: FastifyRequest): Request {
  const headers = new Headers()
  for (const [name, value] of Object.entries(request.headers)) {
    for (const one of Array.isArray(value) ? value : [value]) {
      if (one !== undefined) headers.append(name, one)
    }
  }
  const hasBody =
    Buffer.isBuffer(request.body) && request.method !== 'GET' && request.method !== 'HEAD'
  return new Request(`${request.protocol}://${request.host}${request.url}`, {
    method: request.method,
    headers,
    ...(hasBody && { body: request.body as Buffer }),
  })
}

app.get('/healthz', web(dashboard.handle))
app.get('/api/dashboard/:userId', web(dashboard.handle))
app.post('/api/dashboard/:userId/widgets', web(dashboard.handle))
app.all(`${ADMIN_BASE_PATH}/*`, web(dashboard.admin))

await app.listen({ port: settings.port, host: settings.host })
announce(app.server.address())

exitOnSignals(async () => {
  await app.close()
  await dashboard.close()
})
