import { describe, expect, it } from 'vitest'
import { type CacheEvents, createCache, type PolicyOptions } from '../../src/index.js'
import { gatedFactory, settle } from '../helpers/async.js'
import { type ManualClock, manualClock } from '../helpers/clock.js'

const TTL = 10_000
const COMPUTE_MS = 100

/**
 * A cache whose random draws the test sets (`draw.value`), and a first value computed in
 * 100ms of clock time, so the entry's computeMs is 100 and it is fresh until `freshUntil`.
 */
async function earlyCache(policies: Record<string, PolicyOptions>, options: object = {}) {
  const clock = manualClock()
  const draw = { value: 0.5 }
  const cache = createCache({ clock, random: () => draw.value, policies })
  const refresh: CacheEvents['refresh'][] = []
  cache.on('refresh', (e) => refresh.push(e))
  await cache.wrap('k', () => slowly(clock, 'v1'), options)
  const freshUntil = clock.now() + TTL
  /** Moves the clock to `ms` before expiry. */
  const toBeforeExpiry = (ms: number) => clock.advance(freshUntil - ms - clock.now())
  return { clock, cache, draw, refresh, toBeforeExpiry }
}

/** A factory body that takes COMPUTE_MS of clock time. */
async function slowly<T>(clock: ManualClock, value: T): Promise<T> {
  clock.advance(COMPUTE_MS)
  return value
}

// With beta 1 and computeMs 100, a hit refreshes when now + 100 * -ln(random) >= freshUntil:
// random 0.5 reaches 69.3ms before expiry, random 0.9 reaches 10.5ms before it.

describe('earlyRefresh (XFetch)', () => {
  it('does not refresh far from expiry, whatever the draw', async () => {
    const { cache, draw, refresh, toBeforeExpiry } = await earlyCache({
      default: { ttl: TTL, earlyRefresh: true },
    })
    const factory = gatedFactory()
    toBeforeExpiry(5_000)
    for (const value of [0.5, 0.01, 1e-6]) {
      draw.value = value
      expect(await cache.wrap('k', factory)).toBe('v1')
    }
    toBeforeExpiry(1_000)
    draw.value = 0.5
    expect(await cache.wrap('k', factory)).toBe('v1')
    await settle()
    expect(factory.runs).toBe(0)
    expect(refresh).toEqual([])
    expect(cache.stats().refreshes).toBe(0)
  })

  it('near expiry with a small draw, refreshes in the background while serving the cached value', async () => {
    const { cache, draw, refresh, toBeforeExpiry } = await earlyCache({
      default: { ttl: TTL, earlyRefresh: true },
    })
    const factory = gatedFactory()
    toBeforeExpiry(50)
    draw.value = 0.9 // reaches 10.5ms before expiry: not yet
    expect(await cache.wrap('k', factory)).toBe('v1')
    await settle()
    expect(factory.runs).toBe(0)
    draw.value = 0.5 // reaches 69.3ms before expiry: now
    expect(await cache.wrap('k', factory)).toBe('v1') // answered while the refresh runs
    expect(factory.runs).toBe(1)
    expect(refresh).toEqual([{ key: 'k', reason: 'early' }])
    expect(cache.stats()).toMatchObject({ refreshes: 1, factoryRuns: 2, hits: 2, stale: 0 })
    // Further hits while it runs never start a second one.
    for (let i = 0; i < 10; i++) expect(await cache.wrap('k', factory)).toBe('v1')
    expect(factory.runs).toBe(1)
    factory.gate.resolve('v2')
    await settle()
    expect(await cache.get('k')).toBe('v2')
    expect(await cache.wrap('k', factory)).toBe('v2')
    expect(factory.runs).toBe(1)
  })

  it('keeps serving the cached value when an early refresh fails, reporting it', async () => {
    const { cache, draw, toBeforeExpiry } = await earlyCache({
      default: { ttl: TTL, earlyRefresh: true },
    })
    const errors: CacheEvents['error'][] = []
    cache.on('error', (e) => errors.push(e))
    toBeforeExpiry(50)
    draw.value = 0.5
    const boom = new Error('origin down')
    expect(
      await cache.wrap('k', async () => {
        throw boom
      }),
    ).toBe('v1')
    await settle()
    expect(errors).toEqual([{ error: boom, operation: 'refresh', key: 'k', layer: undefined }])
    expect(cache.stats().factoryErrors).toBe(1)
    expect(await cache.get('k')).toBe('v1')
  })

  it('scales with beta: a larger beta refreshes earlier', async () => {
    const { cache, draw, refresh, toBeforeExpiry } = await earlyCache({
      default: { ttl: TTL, earlyRefresh: 2 },
    })
    const factory = gatedFactory()
    toBeforeExpiry(100)
    draw.value = 0.6 // -ln(0.6) = 0.51: reaches 51ms with beta 1, 102ms with beta 2
    expect(await cache.wrap('k', factory)).toBe('v1')
    expect(factory.runs).toBe(1)
    expect(refresh).toEqual([{ key: 'k', reason: 'early' }])
    factory.gate.resolve('v2')
    await settle()
  })

  it('never refreshes early when earlyRefresh is off', async () => {
    const { cache, draw, refresh, toBeforeExpiry } = await earlyCache({ default: { ttl: TTL } })
    const factory = gatedFactory()
    draw.value = 1e-9
    for (let before = 100; before >= 1; before -= 3) {
      toBeforeExpiry(before)
      expect(await cache.wrap('k', factory)).toBe('v1')
    }
    await settle()
    expect(factory.runs).toBe(0)
    expect(refresh).toEqual([])
  })

  it('never refreshes early a value with no recorded compute time', async () => {
    const clock = manualClock()
    const cache = createCache({
      clock,
      random: () => 1e-9,
      policies: { default: { ttl: TTL, earlyRefresh: true } },
    })
    await cache.wrap('k', async () => 'instant') // no clock time passed: no computeMs
    await cache.set('s', 'set value')
    clock.advance(TTL - 1)
    const factory = gatedFactory()
    expect(await cache.wrap('k', factory)).toBe('instant')
    expect(await cache.wrap('s', factory)).toBe('set value')
    await settle()
    expect(factory.runs).toBe(0)
  })

  it('a per-call earlyRefresh: true works on a policy without it', async () => {
    const { cache, draw, refresh, toBeforeExpiry } = await earlyCache({ default: { ttl: TTL } })
    const factory = gatedFactory()
    toBeforeExpiry(50)
    draw.value = 0.5
    expect(await cache.wrap('k', factory)).toBe('v1') // no override: nothing
    await settle()
    expect(factory.runs).toBe(0)
    expect(await cache.wrap('k', factory, { earlyRefresh: true })).toBe('v1')
    expect(factory.runs).toBe(1)
    expect(refresh).toEqual([{ key: 'k', reason: 'early' }])
    factory.gate.resolve('v2')
    await settle()
    expect(await cache.get('k')).toBe('v2')
  })

  it('a per-call earlyRefresh: false turns it off for that call', async () => {
    const { cache, draw, toBeforeExpiry } = await earlyCache({
      default: { ttl: TTL, earlyRefresh: true },
    })
    const factory = gatedFactory()
    toBeforeExpiry(50)
    draw.value = 0.5
    expect(await cache.wrap('k', factory, { earlyRefresh: false })).toBe('v1')
    await settle()
    expect(factory.runs).toBe(0)
  })

  it('takes beta from the policy the entry was written under', async () => {
    const { cache, draw, refresh, toBeforeExpiry } = await earlyCache(
      { default: { ttl: TTL }, hot: { earlyRefresh: true } },
      { policy: 'hot' },
    )
    const factory = gatedFactory()
    toBeforeExpiry(50)
    draw.value = 0.5
    // The hit names no policy: beta 1 comes from the entry's policy, 'hot'.
    expect(await cache.wrap('k', factory)).toBe('v1')
    expect(factory.runs).toBe(1)
    expect(refresh).toEqual([{ key: 'k', reason: 'early' }])
    factory.gate.resolve('v2')
    await settle()
  })

  it('does not refresh a default-policy entry because another policy has earlyRefresh', async () => {
    const clock = manualClock()
    const cache = createCache({
      clock,
      random: () => 0.5,
      policies: { default: { ttl: TTL }, hot: { earlyRefresh: true } },
    })
    await cache.wrap('k', () => slowly(clock, 'v1'))
    clock.advance(TTL - 50)
    const factory = gatedFactory()
    expect(await cache.wrap('k', factory)).toBe('v1')
    await settle()
    expect(factory.runs).toBe(0)
  })
})
