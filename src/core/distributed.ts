import { type Computation, type Computed, computeAndStore } from './compute.js'
import { randomId } from './ids.js'
import type { LockStore } from './lock.js'
import { readThrough } from './read-path.js'
import { type Runtime, sleep } from './runtime.js'
import type { Flight } from './single-flight.js'

/**
 * The first wait between two looks at a lease held elsewhere; it doubles up to `MAX_POLL_MS`,
 * so a waiter sees the value at most ~20 ms after it lands (two Redis commands per look).
 */
const FIRST_POLL_MS = 5
const MAX_POLL_MS = 20

/**
 * Computes `job` at most once across the processes sharing `locks` (`lock: 'distributed'`).
 * The process that takes the lease reads the layers once more (the value may have landed just
 * before), runs the factory while extending its lease, writes the value through the layers,
 * then releases the lease. The others poll, with backoff, for the value in the layers, and take
 * the lease over if it is released or expires with no value (its holder failed or died). A
 * lease store that fails degrades to computing here: a lock outage never stops a computation.
 */
export async function computeLocked<T>(
  rt: Runtime,
  locks: LockStore,
  job: Computation<T>,
  flight: Flight<unknown>,
  failed: ReadonlySet<number>,
): Promise<Computed<T>> {
  const { key, storeKey, policy } = job
  // The read of this key just failed in the layer that keeps leases: asking it for a lease
  // would cost an outage a second timeout. Compute here (the in-process flight still holds).
  if (failed.has(rt.lockLayer)) return computeAndStore(rt, job, flight, failed)
  const token = randomId(rt.random)
  let wait = FIRST_POLL_MS
  for (;;) {
    if (flight.invalidated) return computeAndStore(rt, job, flight, failed)
    let acquired: boolean
    try {
      acquired = await locks.acquire(storeKey, token, policy.lockLease)
    } catch (error) {
      rt.layerError(rt.lockLayer, 'lock', key, error)
      return computeAndStore(rt, job, flight, failed)
    }
    if (acquired) return holdAndCompute(rt, locks, job, flight, failed, token)
    await sleep(rt, wait)
    wait = Math.min(wait * 2, MAX_POLL_MS)
    const hit = await readThrough(rt, key, storeKey, flight)
    if (hit?.state === 'fresh')
      return { value: hit.entry.value as T, stored: false, entry: hit.entry }
  }
}

async function holdAndCompute<T>(
  rt: Runtime,
  locks: LockStore,
  job: Computation<T>,
  flight: Flight<unknown>,
  failed: ReadonlySet<number>,
  token: string,
): Promise<Computed<T>> {
  const { key, storeKey, policy } = job
  const release = () => {
    rt.background(
      locks
        .release(storeKey, token)
        .catch((error) => rt.layerError(rt.lockLayer, 'unlock', key, error)),
    )
  }
  // The holder that just released may have written the value after this process last looked.
  const hit = await readThrough(rt, key, storeKey, flight)
  if (hit?.state === 'fresh') {
    release()
    return { value: hit.entry.value as T, stored: false, entry: hit.entry }
  }
  // Extend the lease while the factory runs, so only a dead holder's lease expires.
  let stopped = false
  let cancel = () => {}
  const every = policy.lockLease / 3
  const extend = () => {
    if (stopped) return
    locks.extend(storeKey, token, policy.lockLease).catch(() => {})
    cancel = rt.schedule(extend, every)
  }
  cancel = rt.schedule(extend, every)
  try {
    return await computeAndStore(rt, job, flight, failed)
  } finally {
    stopped = true
    cancel()
    release()
  }
}
