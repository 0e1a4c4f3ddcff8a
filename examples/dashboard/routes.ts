// The dashboard's API as one web-standard handler, `(request: Request) => Promise<Response>`,
// so every framework mounts the same code. Routes:
//   GET  /api/dashboard/:userId          the dashboard, the whole response cached (withCache)
//   POST /api/dashboard/:userId/widgets  adds a widget: {"kind": "chart", "title": "Sales"}
//   GET  /healthz                        liveness, and how many database queries ran
// In your application, import from 'layercache/http' instead.

import { withCache } from '../../src/http/index.js'
import type { Cache } from '../../src/index.js'
import { type NewWidget, WIDGET_KINDS } from './database.js'
import type { DashboardService } from './service.js'

const DASHBOARD = /^\/api\/dashboard\/([\w-]{1,64})$/
const WIDGETS = /^\/api\/dashboard\/([\w-]{1,64})\/widgets$/
const MAX_BODY_BYTES = 16 * 1024
const GREETINGS: Record<string, string> = { en: 'Hello', fr: 'Bonjour', de: 'Hallo' }

const json = (status: number, body: unknown, headers?: Record<string, string>) =>
  Response.json(body, { status, headers: { 'cache-control': 'no-store', ...headers } })
// Errors as the admin handler answers them: { error: { code, message } }.
const CODES: Record<number, string> = {
  400: 'E_BAD_REQUEST',
  404: 'E_NOT_FOUND',
  405: 'E_METHOD',
  413: 'E_BODY_TOO_LARGE',
  415: 'E_UNSUPPORTED_MEDIA_TYPE',
  500: 'E_INTERNAL',
}
const fail = (status: number, message: string, headers?: Record<string, string>) =>
  json(status, { error: { code: CODES[status], message } }, headers)

/** The API routes of the dashboard, as one handler (anything else gets 404). */
export function createApiHandler(
  cache: Cache,
  service: DashboardService,
): (request: Request) => Promise<Response> {
  // The whole response is cached, by route and Accept-Language (the greeting depends on it),
  // tagged with the user: the write route's invalidateTags drops it with the dashboard. No
  // `http` policy: browsers get `Cache-Control: no-cache`, keep the response and revalidate
  // it with its ETag each time (a 304 from this cache), so they see a write at once.
  const dashboard = withCache(cache, (request) => readDashboard(service, request), {
    policy: 'responses',
    tags: (request) => [`user:${userIdOf(request)}`],
    vary: ['accept-language'],
  })

  return async (request) => {
    const { pathname } = new URL(request.url)
    const read = request.method === 'GET' || request.method === 'HEAD'
    try {
      if (pathname === '/healthz') {
        if (!read) return fail(405, 'use GET', { allow: 'GET, HEAD' })
        return json(200, { status: 'ok', queries: service.database.queries })
      }
      if (DASHBOARD.test(pathname)) {
        return read ? await dashboard(request) : fail(405, 'use GET', { allow: 'GET, HEAD' })
      }
      const widgets = WIDGETS.exec(pathname)
      if (widgets) {
        if (request.method !== 'POST') return fail(405, 'use POST', { allow: 'POST' })
        return await addWidget(service, request, widgets[1]!)
      }
      return fail(404, `no route for ${request.method} ${pathname}`)
    } catch (error) {
      console.error(`${request.method} ${pathname} failed:`, error)
      return fail(500, 'internal error')
    }
  }
}

function userIdOf(request: Request): string {
  return DASHBOARD.exec(new URL(request.url).pathname)![1]!
}

/** The first language of Accept-Language that has a greeting; English otherwise. */
function languageOf(request: Request): string {
  const header = request.headers.get('accept-language') ?? ''
  for (const range of header.split(',')) {
    const language = range.split(';')[0]!.trim().slice(0, 2).toLowerCase()
    if (language in GREETINGS) return language
  }
  return 'en'
}

async function readDashboard(service: DashboardService, request: Request): Promise<Response> {
  const userId = userIdOf(request)
  const dashboard = await service.getDashboard(userId)
  if (!dashboard) return fail(404, `no user ${userId}`)
  const language = languageOf(request)
  const greeting = `${GREETINGS[language]}, ${dashboard.user.name}`
  return Response.json({ greeting, ...dashboard }, { headers: { 'content-language': language } })
}

async function addWidget(
  service: DashboardService,
  request: Request,
  userId: string,
): Promise<Response> {
  if (!/^application\/(.+\+)?json\b/i.test(request.headers.get('content-type') ?? '')) {
    return fail(415, 'send the widget as JSON (Content-Type: application/json)')
  }
  const declared = Number(request.headers.get('content-length') ?? 0)
  const text = declared > MAX_BODY_BYTES ? '' : await request.text()
  if (declared > MAX_BODY_BYTES || new TextEncoder().encode(text).byteLength > MAX_BODY_BYTES) {
    return fail(413, `the body must be at most ${MAX_BODY_BYTES} bytes`)
  }
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    return fail(400, 'the body is not valid JSON')
  }
  const widget = validWidget(body)
  if (typeof widget === 'string') return fail(400, widget)
  const added = await service.addWidget(userId, widget)
  if (!added) return fail(404, `no user ${userId}`)
  return json(201, added, { location: `/api/dashboard/${userId}` })
}

/** The widget in a request body, or what is wrong with it. */
function validWidget(body: unknown): NewWidget | string {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return 'the body must be an object: {"kind": "chart", "title": "Sales"}'
  }
  const { kind, title, ...rest } = body as Record<string, unknown>
  const extra = Object.keys(rest)
  if (extra.length > 0) return `unknown field: ${extra[0]}`
  if (!WIDGET_KINDS.includes(kind as NewWidget['kind'])) {
    return `kind must be one of ${WIDGET_KINDS.join(', ')}`
  }
  if (typeof title !== 'string' || title.trim() === '' || title.length > 100) {
    return 'title must be a non-empty string of at most 100 characters'
  }
  return { kind: kind as NewWidget['kind'], title: title.trim() }
}
