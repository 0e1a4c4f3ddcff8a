import { describe, expect, it } from 'vitest'
import { createCache } from '../../src/index.js'
import { manualClock } from '../helpers/clock.js'

const DAY = 86_400_000

describe('TTL expiry on the injected clock', () => {
  it('serves a value until its TTL and not after', async () => {
    const clock = manualClock()
    const cache = createCache({ clock })
    await cache.set('k', 'v', { ttl: '10s' })
    clock.advance(9_999)
    expect(await cache.get('k')).toBe('v')
    clock.advance(1)
    expect(await cache.get('k')).toBeUndefined()
    expect(await cache.has('k')).toBe(false)
  })

  it('uses the default policy TTL of 5 minutes when none is given', async () => {
    const clock = manualClock()
    const cache = createCache({ clock })
    await cache.set('k', 1)
    clock.advance(5 * 60_000 - 1)
    expect(await cache.get('k')).toBe(1)
    clock.advance(1)
    expect(await cache.get('k')).toBeUndefined()
  })

  it('recomputes in wrap once the entry expired', async () => {
    const clock = manualClock()
    const cache = createCache({ clock, policies: { default: { ttl: '1m' } } })
    let runs = 0
    const factory = async () => ++runs
    expect(await cache.wrap('k', factory)).toBe(1)
    clock.advance(59_000)
    expect(await cache.wrap('k', factory)).toBe(1)
    clock.advance(1_000)
    expect(await cache.wrap('k', factory)).toBe(2)
  })

  it('keeps TTLs longer than 24.8 days (the setTimeout limit) and needs no timer', async () => {
    const clock = manualClock()
    const cache = createCache({ clock })
    await cache.set('month', 'm', { ttl: '30d' })
    await cache.set('year', 'y', { ttl: '1y' })
    await cache.set('forever', 'f', { ttl: Number.POSITIVE_INFINITY })
    clock.advance(25 * DAY)
    expect(await cache.get('month')).toBe('m')
    clock.advance(5 * DAY - 1)
    expect(await cache.get('month')).toBe('m')
    clock.advance(1)
    expect(await cache.get('month')).toBeUndefined()
    clock.advance(300 * DAY)
    expect(await cache.get('year')).toBe('y')
    clock.advance(100 * 365 * DAY)
    expect(await cache.get('year')).toBeUndefined()
    expect(await cache.get('forever')).toBe('f')
  })

  it('does not cache with ttl 0, and drops the previous value', async () => {
    const cache = createCache()
    await cache.set('k', 'old')
    await cache.set('k', 'new', { ttl: 0 })
    expect(await cache.get('k')).toBeUndefined()
    let runs = 0
    await cache.wrap('w', async () => ++runs, { ttl: 0 })
    await cache.wrap('w', async () => ++runs, { ttl: 0 })
    expect(runs).toBe(2)
  })
})
