import type { Runtime } from './runtime.js'

/**
 * Resolves with `{ value }` when `promise` does, or with `'soft'`/`'hard'` when that many ms
 * pass first (a wait already over resolves at once); rejects when `promise` rejects first.
 */
export function race<T>(
  schedule: Runtime['schedule'],
  promise: Promise<T>,
  softMs: number,
  hardMs: number,
): Promise<{ value: T } | 'soft' | 'hard'> {
  if (softMs <= 0 && softMs < hardMs) return Promise.resolve('soft')
  if (hardMs <= 0) return Promise.resolve('hard')
  return new Promise((resolve, reject) => {
    let settled = false
    const cancels: (() => void)[] = []
    const finish = (settle: () => void) => {
      if (settled) return
      settled = true
      for (const cancel of cancels) cancel()
      settle()
    }
    if (softMs < hardMs && softMs !== Number.POSITIVE_INFINITY)
      cancels.push(schedule(() => finish(() => resolve('soft')), softMs))
    if (hardMs !== Number.POSITIVE_INFINITY)
      cancels.push(schedule(() => finish(() => resolve('hard')), hardMs))
    promise.then(
      (value) => finish(() => resolve({ value })),
      (error: unknown) => finish(() => reject(error)),
    )
  })
}
