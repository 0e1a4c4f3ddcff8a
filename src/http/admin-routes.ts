import { describe, errorMessage } from '../core/errors.js'
import type { Cache, KeyReport, WarmerInfo, WarmReport } from '../index.js'
import { checkTags } from '../tags/tag-names.js'
import { badRequest, HttpError, jsonResponse } from './http-error.js'
import { readJsonBody } from './json-body.js'
import { toJsonSafe } from './json-safe.js'

/** What a route is given: the request, its URL, and the decoded `:params` of its path. */
export interface RouteContext {
  request: Request
  url: URL
  params: readonly string[]
}

/** One path of the endpoint: its segments (`:name` matches any one) and a handler per method. */
export interface Route {
  path: readonly string[]
  methods: Readonly<Record<string, (context: RouteContext) => Promise<Response>>>
}

/** The settings routes need, resolved from the admin options. */
export interface RouteSettings {
  maxBodyBytes: number
  values: boolean
}

/** The longest `?timeout=` a probe may be given: a request is not held for longer. */
export const MAX_PROBE_MS = 30_000
const INVALIDATE_FIELDS = ['tags', 'keys', 'prefix', 'mode', 'acknowledge'] as const
const ACK_FIELDS = ['acknowledge'] as const
const NO_FIELDS = [] as const

/** The routes of the management endpoint, relative to its base path. */
export function adminRoutes(cache: Cache, settings: RouteSettings): Route[] {
  const body = async (request: Request, known: readonly string[], required = false) => {
    const parsed = await readJsonBody(request, { limit: settings.maxBodyBytes, required })
    for (const field in parsed) {
      if (!known.includes(field)) {
        throw badRequest(
          `unknown field \`${field}\`${known.length ? ` (known: ${known.join(', ')})` : ': this route takes no fields'}`,
        )
      }
    }
    return parsed ?? {}
  }
  return [
    { path: ['stats'], methods: { GET: async () => ok({ stats: cache.stats() }) } },
    {
      path: ['stats', 'reset'],
      methods: {
        POST: async ({ request }) => {
          await body(request, NO_FIELDS)
          cache.resetStats()
          return ok({ ok: true })
        },
      },
    },
    {
      path: ['policies'],
      methods: { GET: async () => ok({ policies: cache.policyNames.map((n) => cache.policy(n)) }) },
    },
    {
      path: ['health'],
      methods: {
        GET: async ({ url }) => {
          const timeout = queryTimeout(url)
          const report = await cache.health(timeout === undefined ? {} : { timeout })
          return jsonResponse(report.status === 'down' ? 503 : 200, report)
        },
      },
    },
    {
      path: ['invalidate'],
      methods: {
        POST: async ({ request }) =>
          invalidate(cache, await body(request, INVALIDATE_FIELDS, true)),
      },
    },
    {
      path: ['clear'],
      methods: {
        POST: async ({ request }) => {
          const acknowledge = flag(await body(request, ACK_FIELDS), 'acknowledge')
          await cache.clear(acknowledge ? { acknowledge } : undefined)
          return ok({ ok: true })
        },
      },
    },
    {
      path: ['warmers'],
      methods: { GET: async () => ok({ warmers: cache.warmers.list().map(warmerJson) }) },
    },
    {
      path: ['warmers', ':name', 'run'],
      methods: {
        POST: async ({ request, params }) => {
          const name = params[0]!
          // warmers.run() refuses an unknown name with E_INVALID_OPTION, which would be a 400.
          if (!cache.warmers.list().some((warmer) => warmer.name === name)) {
            throw new HttpError(404, 'E_NOT_FOUND', `no warmer is named ${describe(name)}`)
          }
          await body(request, NO_FIELDS)
          return ok(reportJson(await cache.warmers.run(name)))
        },
      },
    },
    { path: ['keys', ':key'], methods: { GET: async (c) => inspect(cache, settings, c) } },
    { path: ['keys'], methods: { GET: async (c) => inspect(cache, settings, c) } },
  ]
}

const ok = (body: unknown) => jsonResponse(200, body)

async function invalidate(cache: Cache, body: Record<string, unknown>): Promise<Response> {
  const tags = stringList(body, 'tags')
  const keys = stringList(body, 'keys')
  const prefix = body.prefix
  if (prefix !== undefined && (typeof prefix !== 'string' || prefix.length === 0)) {
    throw badRequest(`\`prefix\` must be a non-empty string, got ${describe(prefix)}`)
  }
  if (tags === undefined && keys === undefined && prefix === undefined) {
    throw badRequest('give at least one of `tags`, `keys` or `prefix`')
  }
  const mode = body.mode ?? 'expire'
  if (mode !== 'expire' && mode !== 'stale') {
    throw badRequest(`\`mode\` must be 'expire' or 'stale', got ${describe(mode)}`)
  }
  const acknowledge = flag(body, 'acknowledge')
  // Tags are checked before anything changes, so that a bad tag never leaves a prefix done.
  if (tags) checkTags(tags, 'tags')
  const options = { mode, ...(acknowledge && { acknowledge }) } as const
  // A bad prefix (or a cache without prefixes) is refused first, before anything changed.
  // Other failures (an acknowledgement that timed out: the change applied here) do not stop
  // the next step; the first one is the answer.
  let failure: unknown
  const step = async (run: () => Promise<void>) => {
    try {
      await run()
    } catch (error) {
      if ((error as { code?: unknown }).code === 'E_INVALID_OPTION') throw error
      failure ??= error
    }
  }
  if (prefix !== undefined) await step(() => cache.invalidatePrefix(prefix, options))
  if (tags?.length) await step(() => cache.invalidateTags(tags, options))
  if (keys?.length) await step(() => cache.deleteMany(keys, acknowledge ? { acknowledge } : {}))
  if (failure !== undefined) throw failure
  return ok({
    ok: true,
    tags: tags?.length ?? 0,
    keys: keys?.length ?? 0,
    prefix: prefix ?? null,
    mode,
  })
}

async function inspect(
  cache: Cache,
  settings: RouteSettings,
  { url, params }: RouteContext,
): Promise<Response> {
  const key = params[0] ?? url.searchParams.get('key')
  if (key === null) throw badRequest('give the key in the path (/keys/<key>) or as `?key=`')
  const value = queryFlag(url, 'value')
  if (value && !settings.values) {
    throw new HttpError(
      403,
      'E_VALUES_DISABLED',
      'this endpoint never shows values (`values: false`): ask without `?value=true`',
    )
  }
  const timeout = queryTimeout(url)
  const report = await cache.inspect(key, { value, ...(timeout !== undefined && { timeout }) })
  return ok(reportView(report))
}

/** The report as the endpoint shows it: values JSON-safe. */
function reportView(report: KeyReport): KeyReport {
  return {
    key: report.key,
    layers: report.layers.map((layer) => ({
      ...layer,
      ...('value' in layer && { value: toJsonSafe(layer.value) }),
    })),
  }
}

/** A warm report with each failure's error as its message (an Error renders as `{}`). */
function reportJson(report: WarmReport) {
  return {
    ...report,
    failed: report.failed.map(({ key, error }) => ({ key, error: errorMessage(error) })),
  }
}

function warmerJson(warmer: WarmerInfo) {
  return {
    name: warmer.name,
    every: warmer.every ?? null,
    priority: warmer.priority,
    running: warmer.running,
    lastRun: warmer.lastRun ?? null,
    nextRun: warmer.nextRun ?? null,
    lastReport: warmer.lastReport ? reportJson(warmer.lastReport) : null,
  }
}

function stringList(body: Record<string, unknown>, field: string): string[] | undefined {
  const list = body[field]
  if (list === undefined) return undefined
  if (!Array.isArray(list))
    throw badRequest(`\`${field}\` must be an array of strings, got ${describe(list)}`)
  list.forEach((item, i) => {
    if (typeof item !== 'string' || item.length === 0)
      throw badRequest(`\`${field}[${i}]\` must be a non-empty string, got ${describe(item)}`)
  })
  return list as string[]
}

function flag(body: Record<string, unknown>, field: string): boolean {
  const value = body[field]
  if (value === undefined) return false
  if (typeof value !== 'boolean')
    throw badRequest(`\`${field}\` must be true or false, got ${describe(value)}`)
  return value
}

function queryFlag(url: URL, name: string): boolean {
  const value = url.searchParams.get(name)
  if (value === null || value === 'false' || value === '0') return false
  if (value === 'true' || value === '1') return true
  throw badRequest(`query parameter \`${name}\` must be true or false, got ${describe(value)}`)
}

/** `?timeout=`: milliseconds, or a duration with a unit ('500ms', '2s'), up to 30 s. */
function queryTimeout(url: URL): number | undefined {
  const raw = url.searchParams.get('timeout')
  if (raw === null) return undefined
  const match = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(raw.trim())
  const ms = match ? Number(match[1]) * (match[2] === 's' ? 1000 : 1) : Number.NaN
  if (!(ms > 0 && ms <= MAX_PROBE_MS)) {
    throw badRequest(
      `query parameter \`timeout\` must be milliseconds (or '500ms', '2s') above 0 and at most ${MAX_PROBE_MS}, got ${describe(raw)}`,
    )
  }
  return ms
}
