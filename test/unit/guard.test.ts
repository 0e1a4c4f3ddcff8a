import { describe, expect, it } from 'vitest'
import { CacheError, createCache, memoryLayer, resilient } from '../../src/index.js'
import { chaosLayer } from '../../src/testing/index.js'
import { manualClock } from '../helpers/clock.js'
import { MapLayer } from '../helpers/map-layer.js'

/** L1 memory over a guarded, chaos-wrapped shared store; the test drives time and failures. */
function setup(options: Parameters<typeof resilient>[1] = {}) {
  const clock = manualClock()
  const store = new Map()
  const chaos = chaosLayer(new MapLayer('l2', store))
  const guarded = resilient(chaos, {
    timeout: 20,
    breaker: { threshold: 3, cooldown: '10s' },
    ...options,
  })
  const cache = createCache({ clock, layers: [memoryLayer({ name: 'l1' }), guarded] })
  const errors: { code?: string; operation: string }[] = []
  cache.on('error', (e) =>
    errors.push({ code: (e.error as CacheError).code, operation: e.operation }),
  )
  return { clock, store, chaos, guarded, cache, errors }
}

describe('guard: timeouts', () => {
  it('answers a read of a hung layer as a miss within the timeout, and settles every call', async () => {
    const { chaos, cache, errors } = setup()
    chaos.mode = 'hang'
    const started = performance.now()
    expect(await cache.wrap('k', async () => 'from factory')).toBe('from factory')
    expect(performance.now() - started).toBeLessThan(1_000)
    expect(errors[0]).toEqual({ code: 'E_TIMEOUT', operation: 'get' })
    expect(chaos.hanging).toBeGreaterThan(0)
    chaos.heal()
    expect(chaos.hanging).toBe(0)
    await cache.close()
  })

  it('writes a layer whose read just failed in the background, so the caller waits one timeout', async () => {
    const { chaos, cache } = setup({ timeout: 200 })
    chaos.mode = 'hang'
    const started = performance.now()
    await cache.wrap('k', async () => 1)
    const elapsed = performance.now() - started
    expect(elapsed).toBeGreaterThanOrEqual(190)
    expect(elapsed).toBeLessThan(390) // a second, awaited timeout would make it 400+
    chaos.heal()
    await cache.close()
  })
})

describe('guard: circuit breaker', () => {
  it('opens after `threshold` consecutive failures, then skips the layer without calling it', async () => {
    const { chaos, cache, errors, guarded } = setup()
    chaos.mode = 'down'
    for (let i = 0; i < 3; i++) await cache.get(`k${i}`)
    expect(guarded.health().state).toBe('open')
    const callsWhenOpened = chaos.counts.calls
    for (let i = 0; i < 50; i++) expect(await cache.wrap(`x${i}`, async () => i)).toBe(i)
    expect(chaos.counts.calls).toBe(callsWhenOpened)
    expect(cache.stats().layers.l2?.skipped).toBe(100) // 50 reads and 50 writes
    expect(cache.stats().layers.l2?.errors).toBe(4) // three failures and the opening itself
    expect(errors.filter((e) => e.code === 'E_LAYER')).toHaveLength(1)
  })

  it('lets one probe through after the cooldown: a failure reopens, a success closes', async () => {
    const { chaos, cache, clock, guarded } = setup()
    chaos.mode = 'down'
    for (let i = 0; i < 3; i++) await cache.get(`k${i}`)
    clock.advance(10_000)
    expect(guarded.health().state).toBe('half-open')
    const before = chaos.counts.calls
    await cache.get('probe-1')
    expect(chaos.counts.calls).toBe(before + 1)
    expect(guarded.health().state).toBe('open')
    await cache.get('skipped')
    expect(chaos.counts.calls).toBe(before + 1)
    clock.advance(10_000)
    chaos.heal()
    await cache.get('probe-2')
    expect(guarded.health()).toMatchObject({ state: 'closed', failures: 0 })
    await cache.set('k', 'v')
    expect(chaos.counts.calls).toBe(before + 3)
  })

  it('never opens with breaker: false', async () => {
    const { chaos, cache, guarded } = setup({ breaker: false })
    chaos.mode = 'down'
    for (let i = 0; i < 20; i++) await cache.get(`k${i}`)
    expect(guarded.health().state).toBe('closed')
    expect(chaos.counts.calls).toBe(20)
  })

  it('resets the failure count on a success', async () => {
    const { chaos, cache, guarded } = setup()
    for (let round = 0; round < 5; round++) {
      chaos.mode = 'down'
      await cache.get('a')
      await cache.get('b')
      chaos.mode = 'normal'
      await cache.get('c')
    }
    expect(guarded.health().state).toBe('closed')
  })
})

describe('guard: writes that failed are repaired, never left stale', () => {
  it('reads a key whose write failed as a miss, and deletes it from the layer once it answers', async () => {
    const { chaos, cache, clock, store, guarded } = setup()
    await cache.set('k', 'v1')
    expect(store.size).toBe(1)
    chaos.mode = 'down'
    await cache.set('k', 'v2') // L2 write fails: the store still holds v1
    expect(guarded.health().dirtyKeys).toBe(1)
    expect(await guarded.get('k')).toBeUndefined() // not v1
    chaos.heal()
    clock.advance(10_000)
    await cache.get('unrelated') // any success starts the repair
    await cache.close()
    expect(store.size).toBe(0)
    expect(guarded.health().dirtyKeys).toBe(0)
  })

  it('repairs deletes that were skipped while the circuit was open', async () => {
    const { chaos, cache, clock, store, guarded } = setup()
    await cache.set('gone', 'old')
    chaos.mode = 'down'
    for (let i = 0; i < 3; i++) await cache.get(`k${i}`)
    await cache.delete('gone') // skipped: the circuit is open
    expect([...store.keys()]).toEqual(['default:gone'])
    chaos.heal()
    clock.advance(10_000)
    await cache.get('probe')
    await cache.close()
    expect(store.size).toBe(0)
    expect(guarded.health().dirtyKeys).toBe(0)
  })

  it('a later successful write of a dirty key makes it readable again', async () => {
    const { chaos, cache, guarded } = setup()
    chaos.mode = 'down'
    await cache.set('k', 'v1')
    chaos.heal()
    await cache.set('k', 'v2')
    expect((await guarded.get('k'))?.value).toBe('v2')
  })

  it('past maxDirtyKeys, distrusts the whole layer and repairs it by clearing its namespace', async () => {
    const { chaos, cache, clock, store, guarded } = setup({ maxDirtyKeys: 2 })
    await cache.set('a', 1)
    chaos.mode = 'down'
    await cache.set('b', 2)
    await cache.set('c', 3)
    await cache.set('d', 4)
    expect(guarded.health().dirtyKeys).toBe(Number.POSITIVE_INFINITY)
    expect(await guarded.get('a')).toBeUndefined()
    chaos.heal()
    clock.advance(10_000)
    await cache.get('probe')
    await cache.close()
    expect(store.size).toBe(0)
  })
})

describe('throwOnLayerError', () => {
  it('rejects set and delete with E_LAYER after writing the layers that answered', async () => {
    const store = new Map()
    const l2 = chaosLayer(new MapLayer('l2', store))
    const cache = createCache({
      layers: [memoryLayer({ name: 'l1' }), l2],
      throwOnLayerError: true,
    })
    l2.mode = 'down'
    const error = await cache.set('k', 'v').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(CacheError)
    expect((error as CacheError).code).toBe('E_LAYER')
    expect((error as CacheError).message).toMatch('set of key "k" failed in layer "l2"')
    expect(((error as CacheError).cause as Error).message).toMatch('failed on purpose')
    expect(await cache.get('k')).toBe('v') // L1 was written
    await expect(cache.delete('k')).rejects.toMatchObject({ code: 'E_LAYER' })
    expect(await cache.get('k')).toBeUndefined()
    await expect(cache.clear()).rejects.toMatchObject({ code: 'E_LAYER' })
    // Reads and wrap still fail open.
    expect(await cache.wrap('w', async () => 'ok')).toBe('ok')
  })

  it('never makes wrap reject: its value is computed, a failed write costs the caller nothing', async () => {
    const l2 = new MapLayer('l2')
    l2.set = async () => {
      throw new Error('write refused')
    }
    const cache = createCache({
      layers: [memoryLayer({ name: 'l1' }), l2],
      throwOnLayerError: true,
    })
    expect(await cache.wrap('k', async () => 'computed')).toBe('computed')
    expect(cache.stats().layers.l2?.errors).toBe(1)
    await expect(cache.set('k', 'v')).rejects.toMatchObject({ code: 'E_LAYER' })
  })

  it('rejects a non-boolean', () => {
    expect(() => createCache({ throwOnLayerError: 'yes' as never })).toThrow('`throwOnLayerError`')
  })
})

describe('guard options', () => {
  it.each([
    [{ timeout: 0 }, 'l2.timeout'],
    [{ timeout: 'soon' }, 'l2.timeout'],
    [{ breaker: { threshold: 0 } }, 'l2.breaker.threshold'],
    [{ breaker: { cooldown: -1 } }, 'l2.breaker.cooldown'],
    [{ breaker: { limit: 3 } }, 'l2.breaker.limit'],
    [{ maxDirtyKeys: -1 }, 'l2.maxDirtyKeys'],
    [{ retries: 3 }, 'l2 options.retries'],
  ])('rejects %j naming the option', (options, text) => {
    let caught: unknown
    try {
      resilient(new MapLayer('l2'), options as never)
    } catch (error) {
      caught = error
    }
    expect(caught).toBeInstanceOf(CacheError)
    expect((caught as CacheError).code).toBe('E_INVALID_OPTION')
    expect((caught as CacheError).message).toContain(text)
  })
})
