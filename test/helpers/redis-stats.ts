import type { RedisServer } from './redis-server.js'

/** Calls per command since the last reset, from the server's own INFO commandstats. */
export async function commandCalls(server: RedisServer): Promise<Record<string, number>> {
  const info = (await server.command('INFO', 'commandstats')) ?? ''
  const calls: Record<string, number> = {}
  for (const match of info.matchAll(/cmdstat_([a-z|]+):calls=(\d+)/g))
    calls[match[1]!] = Number(match[2])
  return calls
}

/** Resets the server's command counters. */
export async function resetCommandStats(server: RedisServer): Promise<void> {
  await server.command('CONFIG', 'RESETSTAT')
}
