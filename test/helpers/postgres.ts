import { createConnection } from 'node:net'

/** The PostgreSQL URL for tests: `POSTGRES_URL`, or the machine's local server. */
export const postgresUrl = process.env.POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/test'

/** Throws a clear message when nothing answers at the PostgreSQL URL (bounded: 2 s). */
export async function requirePostgres(): Promise<void> {
  const { hostname, port } = new URL(postgresUrl)
  const reachable = await new Promise<boolean>((resolve) => {
    const socket = createConnection({ host: hostname, port: Number(port || 5432) })
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(2_000, () => done(false))
    socket.once('connect', () => done(true))
    socket.once('error', () => done(false))
  })
  if (!reachable) {
    throw new Error(
      `PostgreSQL is not reachable at ${postgresUrl}; start it (pg_ctlcluster <version> main start, or apt-get install -y postgresql) or set POSTGRES_URL`,
    )
  }
}

/** A table name unique to this test process. */
export function uniqueTable(label: string): string {
  return `lc_${label}_${process.pid}_${Date.now().toString(36)}`
}
