import { type ChildProcess, spawn } from 'node:child_process'
import { connect, createServer } from 'node:net'

/** Options for {@link startRedis}. */
export interface StartRedisOptions {
  /** Always spawn a managed server (ignoring REDIS_URL) so the fault methods work. */
  control?: boolean
  /** Binary to spawn; defaults to `redis-server` looked up on PATH. */
  binary?: string
}

/** Handle on a redis-server used by integration tests. */
export interface RedisServer {
  /** Connection URL, e.g. `redis://127.0.0.1:6390`. */
  readonly url: string
  /** Host the server listens on. */
  readonly host: string
  /** Port the server listens on. */
  readonly port: number
  /** PID of the managed process; undefined for an external server or while it is down. */
  readonly pid: number | undefined
  /** Sends a raw RESP PING; resolves true on +PONG, false on any error or after timeoutMs. */
  ping(timeoutMs?: number): Promise<boolean>
  /** Suspends the process with SIGSTOP (connections hang instead of failing). */
  freeze(): void
  /** Resumes a frozen process with SIGCONT. */
  resume(): void
  /** Kills the process with SIGKILL and waits for it to exit. */
  kill(): Promise<void>
  /** Kills the process if running, then starts a fresh one on the same port and waits for PING. */
  restart(): Promise<void>
  /** Terminates the process (SIGTERM, then SIGKILL); idempotent, and a no-op for an external server. */
  stop(): Promise<void>
  /**
   * Runs one command over a fresh raw RESP connection and returns the reply as text.
   * Supports simple strings, integers, bulk strings (null bulk → null) and errors (rejects);
   * array replies are not supported and reject.
   */
  command(...args: string[]): Promise<string | null>
}

const HOST = '127.0.0.1'
const READY_ATTEMPTS = 100
const READY_INTERVAL_MS = 20
const COMMAND_TIMEOUT_MS = 2_000
const STOP_GRACE_MS = 2_000
const SPAWN_ATTEMPTS = 5
const OUTPUT_LIMIT = 8_192
const NOT_FOUND_MESSAGE =
  'redis-server not found on PATH; install it with: apt-get install -y redis-server (or set REDIS_URL)'

// Every child we spawned and have not yet seen exit, so a dying test process can reap them.
const live = new Set<ChildProcess>()
let cleanupInstalled = false

function killAllLive(): void {
  for (const child of live) {
    try {
      child.kill('SIGKILL')
    } catch {
      // Already gone.
    }
  }
  live.clear()
}

function installCleanup(): void {
  if (cleanupInstalled) return
  cleanupInstalled = true
  process.on('exit', killAllLive)
  // Vitest tears fork workers down with SIGTERM, which skips 'exit' handlers; reap the children,
  // then re-raise so the default termination still happens when nobody else handles the signal.
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      killAllLive()
      process.off(signal, onSignal)
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal)
    }
    process.on(signal, onSignal)
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.once('error', reject)
    server.listen(0, HOST, () => {
      const address = server.address()
      if (address === null || typeof address === 'string') {
        server.close()
        reject(new Error('could not determine a free port'))
        return
      }
      server.close(() => resolve(address.port))
    })
  })
}

function encodeCommand(args: string[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)]
  for (const arg of args) {
    const bytes = Buffer.from(arg)
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n'))
  }
  return Buffer.concat(parts)
}

type Parsed = { kind: 'value'; value: string | null } | { kind: 'error'; message: string }

// Returns undefined while the reply is still incomplete.
function parseReply(buffer: Buffer): Parsed | undefined {
  const lineEnd = buffer.indexOf('\r\n')
  if (lineEnd === -1) return undefined
  const type = String.fromCharCode(buffer[0] ?? 0)
  const line = buffer.subarray(1, lineEnd).toString()
  switch (type) {
    case '+':
    case ':':
      return { kind: 'value', value: line }
    case '-':
      return { kind: 'error', message: line }
    case '$': {
      const length = Number(line)
      if (length < 0) return { kind: 'value', value: null }
      const start = lineEnd + 2
      if (buffer.length < start + length + 2) return undefined
      return { kind: 'value', value: buffer.subarray(start, start + length).toString() }
    }
    default:
      return {
        kind: 'error',
        message: `unsupported RESP reply type '${type}' (arrays are not supported)`,
      }
  }
}

function rawCommand(
  host: string,
  port: number,
  args: string[],
  timeoutMs: number,
): Promise<string | null> {
  return new Promise((resolve, reject) => {
    let buffer = Buffer.alloc(0)
    let settled = false
    const socket = connect({ host, port })
    const finish = (error: Error | undefined, value?: string | null): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.destroy()
      if (error) reject(error)
      else resolve(value ?? null)
    }
    const timer = setTimeout(
      () => finish(new Error(`redis command ${args[0]} timed out after ${timeoutMs} ms`)),
      timeoutMs,
    )
    socket.once('connect', () => socket.write(encodeCommand(args)))
    socket.on('data', (chunk) => {
      buffer = Buffer.concat([buffer, chunk])
      const reply = parseReply(buffer)
      if (reply === undefined) return
      if (reply.kind === 'error') finish(new Error(reply.message))
      else finish(undefined, reply.value)
    })
    socket.once('error', (error) => finish(error))
    socket.once('close', () => finish(new Error('connection closed before a reply')))
  })
}

async function rawPing(host: string, port: number, timeoutMs: number): Promise<boolean> {
  try {
    return (await rawCommand(host, port, ['PING'], timeoutMs)) === 'PONG'
  } catch {
    return false
  }
}

interface Managed {
  port: number
  child: ChildProcess
  exited: Promise<void>
  output: () => string
}

async function spawnOnce(binary: string, port: number): Promise<Managed> {
  const args = [
    '--port',
    String(port),
    '--bind',
    HOST,
    '--save',
    '',
    '--appendonly',
    'no',
    '--daemonize',
    'no',
    '--loglevel',
    'warning',
  ]
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  const collect = (chunk: Buffer): void => {
    output = (output + chunk.toString()).slice(-OUTPUT_LIMIT)
  }
  child.stdout?.on('data', collect)
  child.stderr?.on('data', collect)
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      live.delete(child)
      resolve()
    })
  })
  try {
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve)
      child.once('error', reject)
    })
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(NOT_FOUND_MESSAGE)
    throw error
  }
  installCleanup()
  live.add(child)
  return { port, child, exited, output: () => output }
}

function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null
}

// Spawns and waits for PING; a child that dies early (e.g. port still in use) is reported as such.
async function spawnReady(binary: string, port: number): Promise<Managed> {
  const managed = await spawnOnce(binary, port)
  for (let attempt = 0; attempt < READY_ATTEMPTS; attempt++) {
    if (!isRunning(managed.child)) break
    if (await rawPing(HOST, port, 200)) return managed
    await sleep(READY_INTERVAL_MS)
  }
  const running = isRunning(managed.child)
  if (running) {
    managed.child.kill('SIGKILL')
    await managed.exited
  }
  throw new Error(
    `redis-server on port ${port} ${running ? 'did not answer PING in time' : 'exited during startup'}; output:\n${managed.output()}`,
  )
}

async function spawnWithRetry(binary: string, port: () => Promise<number>): Promise<Managed> {
  let lastError: unknown
  for (let attempt = 0; attempt < SPAWN_ATTEMPTS; attempt++) {
    try {
      return await spawnReady(binary, await port())
    } catch (error) {
      if (error instanceof Error && error.message === NOT_FOUND_MESSAGE) throw error
      lastError = error
      await sleep(50)
    }
  }
  throw lastError
}

function externalServer(rawUrl: string): RedisServer {
  const parsed = new URL(rawUrl)
  const host = parsed.hostname
  const port = Number(parsed.port || 6379)
  const noControl = (): never => {
    throw new Error(
      'fault control needs a managed redis-server; call startRedis({ control: true }) (REDIS_URL is external)',
    )
  }
  return {
    url: rawUrl,
    host,
    port,
    pid: undefined,
    ping: (timeoutMs = 500) => rawPing(host, port, timeoutMs),
    freeze: noControl,
    resume: noControl,
    kill: async () => noControl(),
    restart: async () => noControl(),
    stop: async () => {},
    command: (...args) => rawCommand(host, port, args, COMMAND_TIMEOUT_MS),
  }
}

/** Starts a throwaway redis-server on a free loopback port (or uses REDIS_URL unless control is set). */
export async function startRedis(options: StartRedisOptions = {}): Promise<RedisServer> {
  const external = process.env.REDIS_URL
  if (external && !options.control) return externalServer(external)

  const binary = options.binary ?? 'redis-server'
  let current: Managed | undefined = await spawnWithRetry(binary, freePort)
  const port = current.port
  let frozen = false

  const kill = async (): Promise<void> => {
    const managed = current
    if (!managed) return
    if (isRunning(managed.child)) managed.child.kill('SIGKILL')
    await managed.exited
    frozen = false
  }

  let stopping: Promise<void> | undefined
  const stop = (): Promise<void> => {
    const managed = current
    if (!managed) return stopping ?? Promise.resolve()
    current = undefined
    // Concurrent callers share one shutdown, so none returns before the process is gone.
    stopping = (async () => {
      if (isRunning(managed.child)) {
        if (frozen) managed.child.kill('SIGCONT')
        managed.child.kill('SIGTERM')
        const timer = setTimeout(() => managed.child.kill('SIGKILL'), STOP_GRACE_MS)
        await managed.exited
        clearTimeout(timer)
      }
      frozen = false
    })()
    return stopping
  }

  const requireRunning = (): ChildProcess => {
    if (!current || !isRunning(current.child)) throw new Error('redis-server is not running')
    return current.child
  }

  return {
    url: `redis://${HOST}:${port}`,
    host: HOST,
    port,
    get pid() {
      return current && isRunning(current.child) ? current.child.pid : undefined
    },
    ping: (timeoutMs = 500) => rawPing(HOST, port, timeoutMs),
    freeze: () => {
      requireRunning().kill('SIGSTOP')
      frozen = true
    },
    resume: () => {
      requireRunning().kill('SIGCONT')
      frozen = false
    },
    kill,
    restart: async () => {
      await kill()
      current = await spawnWithRetry(binary, async () => port)
    },
    stop,
    command: (...args) => rawCommand(HOST, port, args, COMMAND_TIMEOUT_MS),
  }
}
