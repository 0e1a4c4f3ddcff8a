/** A random id (of an instance, a lease holder, a message): a UUID where the runtime has one. */
export function randomId(random: () => number): string {
  const crypto = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto
  if (typeof crypto?.randomUUID === 'function') return crypto.randomUUID()
  return `${random().toString(36).slice(2)}${random().toString(36).slice(2)}`
}
