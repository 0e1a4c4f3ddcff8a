// What every example server process does the same way, whatever its framework: read its
// settings from the environment, say where it listens, and shut down cleanly on a signal.
import type { AddressInfo } from 'node:net'
import type { DashboardAppOptions } from './app.js'

export interface ServerSettings {
  /** PORT: default 3000; 0 picks a free port. */
  port: number
  /** HOST: default 127.0.0.1. */
  host: string
  /** REDIS_URL, DATABASE_FILE and ADMIN_TOKEN, for createDashboardApp. */
  app: DashboardAppOptions
}

/** Reads PORT, HOST, REDIS_URL, DATABASE_FILE and ADMIN_TOKEN. */
export function serverSettings(env: NodeJS.ProcessEnv = process.env): ServerSettings {
  const port = Number(env.PORT ?? 3000)
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new Error(`PORT must be a port number (0 for any free port), got ${env.PORT}`)
  }
  const app: DashboardAppOptions = {}
  if (env.REDIS_URL) app.redisUrl = env.REDIS_URL
  if (env.DATABASE_FILE) app.databaseFile = env.DATABASE_FILE
  if (env.ADMIN_TOKEN) app.adminToken = env.ADMIN_TOKEN
  return { port, host: env.HOST || '127.0.0.1', app }
}

/** Prints the one line that says the server is up, with the port it really got. */
export function announce(address: AddressInfo | string | null): void {
  if (address === null || typeof address === 'string') {
    throw new Error(`expected a TCP address, got ${String(address)}`)
  }
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
  console.log(`listening on http://${host}:${address.port}`)
}

/**
 * On SIGTERM or SIGINT, runs `shutdown` (close the server, then the app) and exits: 0 once it
 * resolved, 1 if it failed or took more than 10 s, or on a second signal.
 */
export function exitOnSignals(shutdown: () => Promise<void>): void {
  let closing = false
  const onSignal = (signal: NodeJS.Signals) => {
    if (closing) process.exit(1)
    closing = true
    setTimeout(() => {
      console.error(`${signal}: shutdown took more than 10 s`)
      process.exit(1)
    }, 10_000).unref()
    shutdown().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(`${signal}: shutdown failed:`, error)
        process.exit(1)
      },
    )
  }
  process.on('SIGTERM', onSignal)
  process.on('SIGINT', onSignal)
}
