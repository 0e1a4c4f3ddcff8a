import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { type RedisServer, startRedis } from '../helpers/redis-server.js'

// Each example server of examples/servers/ runs as a child process on a free loopback port
// (PORT=0), and is driven with fetch: memory only, then two instances over one Redis.

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const tsx = join(root, 'node_modules', '.bin', 'tsx')
const SERVERS = ['node-http', 'express', 'fastify', 'hono'] as const
const START_TIMEOUT_MS = 15_000
const EXIT_TIMEOUT_MS = 5_000
const REQUEST_TIMEOUT_MS = 5_000
/** Health probes each layer for 1 s at most; the answer must come well before Redis is back. */
const FROZEN_HEALTH_LIMIT_MS = 3_000
const TOKEN = 'servers-test-token'
const OUTPUT_LIMIT = 16_384

interface Exit {
  code: number | null
  signal: NodeJS.Signals | null
}

interface Server {
  url: string
  /** What the process printed so far (stdout and stderr). */
  output: () => string
  /** Sends SIGTERM and waits (bounded) for the exit; SIGKILLs the process group if it hangs. */
  stop: () => Promise<Exit>
}

const live = new Set<Server>()

async function startServer(name: string, env: Record<string, string> = {}): Promise<Server> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' }
  delete childEnv.REDIS_URL
  delete childEnv.DATABASE_FILE
  Object.assign(childEnv, { PORT: '0', HOST: '127.0.0.1', ADMIN_TOKEN: TOKEN }, env)
  // detached: a process group of its own (tsx runs node as a child), so that a hung server
  // can be killed whole.
  const child = spawn(tsx, [join(root, 'examples', 'servers', `${name}.ts`)], {
    cwd: root,
    env: childEnv,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-OUTPUT_LIMIT)
  }
  child.stdout.on('data', collect)
  child.stderr.on('data', collect)
  const exited = new Promise<Exit>((resolveExit) => {
    child.once('exit', (code, signal) => resolveExit({ code, signal }))
  })
  const url = await listeningUrl(child, exited, () => output, name)
  const server: Server = {
    url,
    output: () => output,
    stop: async () => {
      live.delete(server)
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
      const exit = await within(exited, EXIT_TIMEOUT_MS)
      if (exit) return exit
      killGroup(child)
      throw new Error(`${name} did not exit within ${EXIT_TIMEOUT_MS} ms of SIGTERM:\n${output}`)
    },
  }
  live.add(server)
  return server
}

/** Waits (bounded) for the one line `listening on http://127.0.0.1:<port>`. */
function listeningUrl(
  child: ChildProcess,
  exited: Promise<Exit>,
  output: () => string,
  name: string,
): Promise<string> {
  return new Promise((resolveUrl, reject) => {
    const fail = (why: string) => {
      clearTimeout(timer)
      killGroup(child)
      reject(new Error(`${name} ${why}; output:\n${output()}`))
    }
    const timer = setTimeout(
      () => fail(`printed no listening line in ${START_TIMEOUT_MS} ms`),
      START_TIMEOUT_MS,
    )
    child.stdout?.on('data', () => {
      const match = /^listening on (http:\/\/127\.0\.0\.1:\d+)$/m.exec(output())
      if (!match) return
      clearTimeout(timer)
      resolveUrl(match[1]!)
    })
    void exited.then((exit) => fail(`exited before listening (${exit.code ?? exit.signal})`))
  })
}

function killGroup(child: ChildProcess): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL')
  } catch {
    // Already gone.
  }
}

async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<undefined>((resolveTimeout) => {
    timer = setTimeout(() => resolveTimeout(undefined), ms)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

function request(server: Server, path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${server.url}${path}`, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })
}

const admin = (server: Server, path: string, init: RequestInit = {}) =>
  request(server, `/cache${path}`, {
    ...init,
    headers: { authorization: `Bearer ${TOKEN}`, ...(init.headers as Record<string, string>) },
  })

const addWidget = (server: Server, userId: string, body: unknown) =>
  request(server, `/api/dashboard/${userId}/widgets`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })

/** The database queries the server ran so far (from /healthz). */
async function queries(server: Server): Promise<number> {
  const response = await request(server, '/healthz')
  expect(response.status).toBe(200)
  return ((await response.json()) as { queries: number }).queries
}

interface DashboardBody {
  greeting: string
  user: { id: string; name: string }
  widgets: { id: string; kind: string; title: string }[]
  computedAt: string
}

async function dashboard(server: Server, userId: string, headers: Record<string, string> = {}) {
  const response = await request(server, `/api/dashboard/${userId}`, { headers })
  expect(response.status, `GET /api/dashboard/${userId}`).toBe(200)
  return { response, body: (await response.json()) as DashboardBody }
}

/** Polls `read` every 20 ms until `done` accepts what it returned; 3 s at most. */
async function until<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + 3_000
  for (;;) {
    const value = await read()
    if (done(value) || Date.now() > deadline) return value
    await new Promise((resolveSleep) => setTimeout(resolveSleep, 20))
  }
}

afterAll(async () => {
  await Promise.allSettled([...live].map((server) => server.stop()))
})

describe.each(SERVERS)('examples/servers/%s.ts', (name) => {
  describe('memory only', () => {
    let server: Server
    beforeAll(async () => {
      server = await startServer(name)
    })
    afterAll(async () => {
      if (server && live.has(server)) await server.stop()
    })
    beforeEach(({ onTestFailed }) => {
      onTestFailed(() => console.error(`output of ${name}:\n${server?.output()}`))
    })

    it('answers the first GET with MISS, the second with HIT and Age, without a query', async () => {
      const before = await queries(server)
      const first = await dashboard(server, '1')
      expect(first.response.headers.get('x-cache')).toBe('MISS')
      expect(first.response.headers.get('cache-control')).toBe('no-cache')
      expect(first.body.greeting).toBe('Hello, Ada')
      const afterMiss = await queries(server)
      expect(afterMiss).toBeGreaterThan(before)

      const second = await dashboard(server, '1')
      expect(second.response.headers.get('x-cache')).toBe('HIT')
      expect(second.response.headers.get('x-cache-layer')).toBe('memory')
      expect(second.response.headers.get('age')).toMatch(/^\d+$/)
      expect(second.response.headers.get('etag')).toBe(first.response.headers.get('etag'))
      expect(second.body).toEqual(first.body)
      expect(await queries(server)).toBe(afterMiss)
    })

    it('answers If-None-Match with the ETag with 304 and no body', async () => {
      const { response } = await dashboard(server, '2')
      const etag = response.headers.get('etag')!
      expect(etag).toMatch(/^(W\/)?"[^"]+"$/)
      const before = await queries(server)
      const conditional = await request(server, '/api/dashboard/2', {
        headers: { 'if-none-match': etag },
      })
      expect(conditional.status).toBe(304)
      expect(conditional.headers.get('etag')).toBe(etag)
      expect(await conditional.text()).toBe('')
      const other = await request(server, '/api/dashboard/2', {
        headers: { 'if-none-match': '"something-else"' },
      })
      expect(other.status).toBe(200)
      expect(await queries(server)).toBe(before)
    })

    it('caches one response per language, both built from one @Cached dashboard', async () => {
      await dashboard(server, '3')
      const before = await queries(server)
      const french = await dashboard(server, '3', { 'accept-language': 'fr-FR,fr;q=0.9' })
      expect(french.response.headers.get('x-cache')).toBe('MISS')
      expect(french.response.headers.get('vary')).toMatch(/accept-language/i)
      expect(french.body.greeting).toBe('Bonjour, Grace')
      expect(await queries(server)).toBe(before)
    })

    it('serves a fresh dashboard (MISS) with the new widget after a write', async () => {
      const cached = await dashboard(server, '4')
      await dashboard(server, '4')
      const before = await queries(server)
      const created = await addWidget(server, '4', { kind: 'chart', title: 'Signups' })
      expect(created.status).toBe(201)
      const widget = (await created.json()) as { id: string; title: string }
      expect(widget.title).toBe('Signups')

      const fresh = await dashboard(server, '4')
      expect(fresh.response.headers.get('x-cache')).toBe('MISS')
      expect(fresh.body.widgets.map((w) => w.id)).toContain(widget.id)
      expect(fresh.body.computedAt).not.toBe(cached.body.computedAt)
      expect(await queries(server)).toBeGreaterThan(before)
      expect((await dashboard(server, '4')).response.headers.get('x-cache')).toBe('HIT')
    })

    it('refuses bad widgets: 400 for malformed JSON and bad fields, 404 for an unknown user', async () => {
      const malformed = await addWidget(server, '5', '{"kind": "chart",')
      expect(malformed.status).toBe(400)
      expect(((await malformed.json()) as { error: { code: string } }).error.code).toBe(
        'E_BAD_REQUEST',
      )
      expect((await addWidget(server, '5', { kind: 'clock', title: 'x' })).status).toBe(400)
      expect((await addWidget(server, '5', { kind: 'note' })).status).toBe(400)
      expect((await addWidget(server, '404', { kind: 'note', title: 'x' })).status).toBe(404)
      expect((await request(server, '/api/dashboard/404')).status).toBe(404)
    })

    it('guards the admin routes: 401 without a token, 403 with a wrong one, 200 with it', async () => {
      const anonymous = await request(server, '/cache/stats')
      expect(anonymous.status).toBe(401)
      expect(anonymous.headers.get('www-authenticate')).toMatch(/^Bearer/)
      const wrong = await request(server, '/cache/stats', {
        headers: { authorization: 'Bearer not-the-token' },
      })
      expect(wrong.status).toBe(403)
      const allowed = await admin(server, '/stats')
      expect(allowed.status).toBe(200)
      const { stats } = (await allowed.json()) as { stats: { hits: number; misses: number } }
      expect(stats.hits).toBeGreaterThan(0)
      expect(stats.misses).toBeGreaterThan(0)
    })

    it('answers a malformed admin body with 400, and invalidates by tag', async () => {
      const malformed = await admin(server, '/invalidate', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"tags": [',
      })
      expect(malformed.status).toBe(400)
      expect(((await malformed.json()) as { error: { code: string } }).error.code).toBe(
        'E_BAD_REQUEST',
      )

      await dashboard(server, '1')
      const invalidated = await admin(server, '/invalidate', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ tags: ['user:1'] }),
      })
      expect(invalidated.status).toBe(200)
      expect((await dashboard(server, '1')).response.headers.get('x-cache')).toBe('MISS')
    })

    it('exits 0 on SIGTERM', async () => {
      expect(await server.stop()).toEqual({ code: 0, signal: null })
    })
  })

  describe('memory over Redis, two instances and the bus', () => {
    let redis: RedisServer
    let directory: string
    let a: Server
    let b: Server
    beforeAll(async () => {
      redis = await startRedis({ control: true })
      directory = await mkdtemp(join(tmpdir(), `layercache-${name}-`))
      // One Redis, one database file: two instances of one service.
      const env = { REDIS_URL: redis.url, DATABASE_FILE: join(directory, 'database.json') }
      ;[a, b] = await Promise.all([startServer(name, env), startServer(name, env)])
    })
    afterAll(async () => {
      if (redis?.pid !== undefined) redis.resume()
      await Promise.allSettled([a, b].filter((s) => s && live.has(s)).map((s) => s.stop()))
      await redis?.stop()
      if (directory) await rm(directory, { recursive: true, force: true })
    })
    beforeEach(({ onTestFailed }) => {
      onTestFailed(() => {
        console.error(`output of ${name} A:\n${a?.output()}\noutput of ${name} B:\n${b?.output()}`)
      })
    })

    it('serves on B what A cached: from Redis, then from memory', async () => {
      const fromA = await dashboard(a, '1')
      expect(fromA.response.headers.get('x-cache')).toBe('MISS')
      const fromRedis = await dashboard(b, '1')
      expect(fromRedis.response.headers.get('x-cache')).toBe('HIT')
      expect(fromRedis.response.headers.get('x-cache-layer')).toBe('redis')
      expect(fromRedis.response.headers.get('etag')).toBe(fromA.response.headers.get('etag'))
      const fromMemory = await dashboard(b, '1')
      expect(fromMemory.response.headers.get('x-cache-layer')).toBe('memory')
      expect(await queries(b)).toBe(0)
    })

    it('shows a write on A fresh on B', async () => {
      await dashboard(b, '2')
      expect((await dashboard(b, '2')).response.headers.get('x-cache-layer')).toBe('memory')
      const created = await addWidget(a, '2', { kind: 'table', title: 'Churn' })
      expect(created.status).toBe(201)
      const { id } = (await created.json()) as { id: string }
      // The bus tells B within milliseconds; polling only absorbs a slow machine.
      const fresh = await until(
        () => dashboard(b, '2'),
        ({ body }) => body.widgets.some((widget) => widget.id === id),
      )
      expect(fresh.body.widgets.map((widget) => widget.id)).toContain(id)
      expect(fresh.response.headers.get('x-cache')).toBe('MISS')
    })

    it('reports the redis layer down, in bounded time, while Redis is frozen', async () => {
      const healthy = await admin(b, '/health')
      expect(healthy.status).toBe(200)
      expect(((await healthy.json()) as { status: string }).status).toBe('up')

      redis.freeze()
      try {
        const started = performance.now()
        const response = await admin(b, '/health')
        expect(performance.now() - started).toBeLessThan(FROZEN_HEALTH_LIMIT_MS)
        const report = (await response.json()) as {
          status: string
          layers: { name: string; status: string }[]
        }
        expect(report.status).toBe('degraded')
        expect(report.layers.find((layer) => layer.name === 'memory')?.status).toBe('up')
        expect(report.layers.find((layer) => layer.name === 'redis')?.status).toBe('down')
        // The API still answers: the memory layer and the database do not need Redis.
        const read = await request(a, '/api/dashboard/3')
        expect(read.status).toBe(200)
      } finally {
        redis.resume()
      }
    })

    it('both instances exit 0 on SIGTERM', async () => {
      const exits = await Promise.all([a.stop(), b.stop()])
      expect(exits).toEqual([
        { code: 0, signal: null },
        { code: 0, signal: null },
      ])
    })
  })
})
