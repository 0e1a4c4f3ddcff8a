import { describe, expect, it } from 'vitest'
import { CacheError, type CacheEvents, createCache, type PolicyOptions } from '../../src/index.js'
import { gatedFactory, settle, track } from '../helpers/async.js'
import { manualClock } from '../helpers/clock.js'
import { deferred } from '../helpers/map-layer.js'

function timeoutCache(policy: PolicyOptions) {
  const clock = manualClock()
  const cache = createCache({ clock, policies: { default: { ttl: '1s', ...policy } } })
  const stale: CacheEvents['stale'][] = []
  const errors: CacheEvents['error'][] = []
  cache.on('stale', (e) => stale.push(e))
  cache.on('error', (e) => errors.push(e))
  return { clock, cache, stale, errors }
}

describe('softTimeout', () => {
  it('serves the stale value when the factory is slower, and stores the late value', async () => {
    const { clock, cache, stale } = timeoutCache({ staleIfError: '1m', softTimeout: '200ms' })
    await cache.wrap('k', async () => 'v1')
    clock.advance(1_500)
    const slow = gatedFactory()
    const call = track(cache.wrap('k', slow))
    await settle()
    expect(call.done).toBe(false) // within softTimeout the caller waits for the factory
    clock.advance(199)
    await settle()
    expect(call.done).toBe(false)
    clock.advance(1)
    await settle()
    expect(call).toMatchObject({ done: true, value: 'v1' })
    expect(stale).toEqual([{ key: 'k', layer: 'memory', reason: 'timeout' }])
    expect(cache.stats()).toMatchObject({ timeouts: 1, stale: 1, misses: 2, factoryErrors: 0 })
    // The factory goes on in the background and updates the cache when it answers.
    clock.advance(5_000)
    slow.gate.resolve('v2')
    await settle()
    expect(await cache.get('k')).toBe('v2')
    let runs = 0
    expect(
      await cache.wrap('k', async () => {
        runs++
        return 'v3'
      }),
    ).toBe('v2')
    expect(runs).toBe(0)
    expect(slow.runs).toBe(1)
  })

  it('serves stale at once to a caller arriving while the timed-out factory still runs', async () => {
    const { clock, cache, stale } = timeoutCache({ staleIfError: '1m', softTimeout: '200ms' })
    await cache.wrap('k', async () => 'v1')
    clock.advance(1_500)
    const slow = gatedFactory()
    const first = track(cache.wrap('k', slow))
    await settle()
    clock.advance(200)
    await settle()
    expect(first.value).toBe('v1')
    clock.advance(100)
    // The computation started 300ms ago: this caller does not wait another 200ms.
    const second = track(cache.wrap('k', slow))
    await settle()
    expect(second).toMatchObject({ done: true, value: 'v1' })
    expect(slow.runs).toBe(1)
    expect(stale.map((e) => e.reason)).toEqual(['timeout', 'timeout'])
    slow.gate.resolve('v2')
    await settle()
    expect(await cache.get('k')).toBe('v2')
  })

  it('does not apply without a stale value: the caller waits for the factory', async () => {
    const { clock, cache } = timeoutCache({ staleIfError: '1m', softTimeout: '200ms' })
    const slow = gatedFactory()
    const call = track(cache.wrap('k', slow))
    await settle()
    clock.advance(60_000)
    await settle()
    expect(call.done).toBe(false)
    slow.gate.resolve('v1')
    await settle()
    expect(call).toMatchObject({ done: true, value: 'v1' })
    expect(cache.stats().timeouts).toBe(0)
    expect(clock.pending()).toBe(0)
  })

  it('does not apply when the stale value is beyond staleIfError', async () => {
    const { clock, cache } = timeoutCache({
      staleWhileRevalidate: '2m', // keeps the entry, but only within 1m may it be a fallback
      staleIfError: '1m',
      softTimeout: '200ms',
    })
    await cache.wrap('k', async () => 'v1')
    clock.advance(1_000 + 2 * 60_000 - 1) // still held for swr... which serves it at once
    const slow = gatedFactory()
    expect(await cache.wrap('k', slow)).toBe('v1')
    expect(cache.stats().timeouts).toBe(0)
    slow.gate.resolve('v2')
    await settle()
  })

  it('reports a factory that fails after the caller was served stale', async () => {
    const { clock, cache, errors } = timeoutCache({ staleIfError: '1m', softTimeout: '200ms' })
    await cache.wrap('k', async () => 'v1')
    clock.advance(1_500)
    const gate = deferred<string>()
    const call = track(cache.wrap('k', () => gate.promise))
    await settle()
    clock.advance(200)
    await settle()
    expect(call.value).toBe('v1')
    const boom = new Error('late failure')
    gate.reject(boom)
    await settle()
    expect(errors).toEqual([{ error: boom, operation: 'factory', key: 'k', layer: undefined }])
    expect(cache.stats().factoryErrors).toBe(1)
  })

  it('cancels its timer when the factory answers in time', async () => {
    const { clock, cache } = timeoutCache({
      staleIfError: '1m',
      softTimeout: '200ms',
      hardTimeout: '1s',
    })
    await cache.wrap('k', async () => 'v1')
    clock.advance(1_500)
    const fast = gatedFactory()
    const call = track(cache.wrap('k', fast))
    await settle()
    expect(clock.pending()).toBe(2) // soft and hard armed
    clock.advance(150)
    fast.gate.resolve('v2')
    await settle()
    expect(call.value).toBe('v2')
    expect(clock.pending()).toBe(0)
    expect(cache.stats().timeouts).toBe(0)
  })
})

describe('hardTimeout', () => {
  it('without a stale value rejects with E_TIMEOUT; the factory goes on and its value is stored', async () => {
    const { clock, cache } = timeoutCache({ hardTimeout: '1s' })
    const slow = gatedFactory()
    const call = track(cache.wrap('k', slow))
    await settle()
    clock.advance(999)
    await settle()
    expect(call.done).toBe(false)
    clock.advance(1)
    await settle()
    expect(call.done).toBe(true)
    expect(call.error).toBeInstanceOf(CacheError)
    expect((call.error as CacheError).code).toBe('E_TIMEOUT')
    expect((call.error as CacheError).message).toContain('"k"')
    expect(cache.stats().timeouts).toBe(1)
    // A caller joining the computation that is already past its hardTimeout fails at once.
    const late = track(cache.wrap('k', slow))
    await settle()
    expect((late.error as CacheError | undefined)?.code).toBe('E_TIMEOUT')
    expect(slow.runs).toBe(1)
    slow.gate.resolve('late value')
    await settle()
    expect(await cache.get('k')).toBe('late value')
    expect(await cache.wrap('k', slow)).toBe('late value')
    expect(slow.runs).toBe(1)
    expect(cache.stats().factoryRuns).toBe(1)
  })

  it('ignores softTimeout without a stale value, but not hardTimeout', async () => {
    const { clock, cache } = timeoutCache({ softTimeout: '100ms', hardTimeout: '1s' })
    const slow = gatedFactory()
    const call = track(cache.wrap('k', slow))
    await settle()
    clock.advance(500)
    await settle()
    expect(call.done).toBe(false)
    clock.advance(500)
    await settle()
    expect((call.error as CacheError | undefined)?.code).toBe('E_TIMEOUT')
    slow.gate.resolve('v')
    await settle()
  })

  it('reports a factory that fails after its caller timed out, and stores nothing', async () => {
    const { clock, cache, errors } = timeoutCache({ hardTimeout: '1s' })
    const slow = gatedFactory()
    const call = track(cache.wrap('k', slow))
    await settle()
    clock.advance(1_000)
    await settle()
    expect((call.error as CacheError | undefined)?.code).toBe('E_TIMEOUT')
    const boom = new Error('late failure')
    slow.gate.reject(boom)
    await settle()
    expect(errors).toEqual([{ error: boom, operation: 'factory', key: 'k', layer: undefined }])
    expect(cache.stats().factoryErrors).toBe(1)
    expect(await cache.has('k')).toBe(false)
  })

  it('with a stale value within staleIfError serves it (reason timeout) and backs off', async () => {
    const { clock, cache, stale } = timeoutCache({
      staleIfError: '1m',
      staleIfErrorRetry: '5s',
      hardTimeout: '1s',
    })
    await cache.wrap('k', async () => 'v1')
    clock.advance(1_500)
    const slow = gatedFactory()
    const call = track(cache.wrap('k', slow))
    await settle()
    clock.advance(1_000)
    await settle()
    expect(call).toMatchObject({ done: true, value: 'v1' })
    expect(stale).toEqual([{ key: 'k', layer: 'memory', reason: 'timeout' }])
    expect(cache.stats().timeouts).toBe(1)
    // Backing off: served stale at once, the factory not called again.
    let runs = 0
    expect(
      await cache.wrap('k', async () => {
        runs++
        return 'other'
      }),
    ).toBe('v1')
    expect(runs).toBe(0)
    expect(stale.at(-1)?.reason).toBe('error')
    // The slow factory answers: its value is stored and ends the back-off.
    slow.gate.resolve('v2')
    await settle()
    expect(await cache.wrap('k', slow)).toBe('v2')
    clock.advance(1_000) // v2 expired; the back-off is over, so the factory runs again
    expect(await cache.wrap('k', async () => 'v3')).toBe('v3')
  })
})

describe('SWR + softTimeout + staleIfError together', () => {
  it('follows each rule in its own window', async () => {
    const { clock, cache, stale } = timeoutCache({
      staleWhileRevalidate: '2s',
      staleIfError: '30s',
      staleIfErrorRetry: '5s',
      softTimeout: '100ms',
    })
    const reasons = () => stale.map((e) => e.reason)
    await cache.wrap('k', async () => 'v1')

    // Within SWR: stale at once, even while the refresh is slow; no timeout involved.
    clock.advance(1_500)
    const refresh = gatedFactory()
    expect(await cache.wrap('k', refresh)).toBe('v1')
    expect(reasons()).toEqual(['revalidating'])
    clock.advance(300)
    refresh.gate.resolve('v2')
    await settle()
    expect(await cache.wrap('k', refresh)).toBe('v2') // fresh until 1s after it was written
    expect(cache.stats().timeouts).toBe(0)

    // Past SWR but within staleIfError: the caller waits up to softTimeout, then gets stale.
    clock.advance(1_000 + 2_000)
    const slow = gatedFactory()
    const call = track(cache.wrap('k', slow))
    await settle()
    expect(call.done).toBe(false)
    clock.advance(100)
    await settle()
    expect(call.value).toBe('v2')
    expect(reasons()).toEqual(['revalidating', 'timeout'])
    expect(cache.stats().timeouts).toBe(1)
    slow.gate.resolve('v3')
    await settle()
    expect(await cache.get('k')).toBe('v3')

    // Past SWR, within staleIfError, the factory fails: stale, then back-off.
    clock.advance(1_000 + 2_500)
    let failures = 0
    const failing = async (): Promise<string> => {
      failures++
      throw new Error('down')
    }
    expect(await cache.wrap('k', failing)).toBe('v3')
    clock.advance(1_000)
    expect(await cache.wrap('k', failing)).toBe('v3')
    expect(failures).toBe(1)
    expect(reasons()).toEqual(['revalidating', 'timeout', 'error', 'error'])

    // Beyond every window: the caller waits for the factory, and its error reaches them.
    clock.advance(30_000)
    await expect(cache.wrap('k', failing)).rejects.toThrow('down')
    expect(failures).toBe(2)
  })
})
