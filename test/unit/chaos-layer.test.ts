import { describe, expect, it } from 'vitest'
import { CacheError, createCache, type Entry, memoryLayer } from '../../src/index.js'
import { ChaosLayer, type ChaosOptions, chaosLayer } from '../../src/testing/index.js'
import { manualClock } from '../helpers/clock.js'

function entry(value: unknown): Entry {
  return {
    value,
    createdAt: 0,
    freshUntil: Number.POSITIVE_INFINITY,
    staleUntil: Number.POSITIVE_INFINITY,
  }
}

/** A chaos layer over a memory layer named 'store', bound by a cache of its own. */
function setup(options?: ChaosOptions) {
  const inner = memoryLayer({ name: 'store' })
  const chaos = chaosLayer(inner, options)
  const cache = createCache({ layers: [chaos] })
  return { inner, chaos, cache }
}

/** A source of randomness that answers `values` in order, and fails the test when exhausted. */
function sequence(values: readonly number[]) {
  let next = 0
  const random = () => {
    if (next >= values.length) throw new Error('random() called more often than expected')
    return values[next++]!
  }
  return { random, used: () => next }
}

/** Watches a promise without awaiting it. */
function track(promise: Promise<unknown>) {
  const state: { settled: boolean; value?: unknown; error?: unknown } = { settled: false }
  promise.then(
    (value) => {
      state.settled = true
      state.value = value
    },
    (error) => {
      state.settled = true
      state.error = error
    },
  )
  return state
}

/** Lets timers and promise callbacks run for a few milliseconds. */
const tick = (ms = 5) => new Promise((resolve) => setTimeout(resolve, ms))

/** Outcome of one call: 'ok', 'failed' (rejected) or 'hung' (still pending after a tick). */
async function outcomes(calls: Promise<unknown>[]): Promise<string[]> {
  const states = calls.map(track)
  await tick()
  return states.map((s) => (!s.settled ? 'hung' : s.error === undefined ? 'ok' : 'failed'))
}

function invalid(options: unknown): CacheError {
  try {
    chaosLayer(memoryLayer(), options as ChaosOptions)
  } catch (error) {
    expect(error).toBeInstanceOf(CacheError)
    expect((error as CacheError).code).toBe('E_INVALID_OPTION')
    return error as CacheError
  }
  throw new Error(`expected E_INVALID_OPTION for ${JSON.stringify(options)}`)
}

describe('chaosLayer: normal mode', () => {
  it('takes the name of the layer it wraps and exposes it', () => {
    const { inner, chaos } = setup()
    expect(chaos).toBeInstanceOf(ChaosLayer)
    expect(chaos.name).toBe('store')
    expect(chaos.inner).toBe(inner)
    expect(chaos.mode).toBe('normal')
  })

  it('passes every call through to the wrapped layer', async () => {
    const { inner, chaos } = setup()
    await chaos.set('a', entry('A'), 60_000)
    expect(inner.get('a')?.value).toBe('A')
    expect((await chaos.get('a'))?.value).toBe('A')
    await chaos.setMany([
      { key: 'b', entry: entry('B'), ttlMs: 60_000 },
      { key: 'c', entry: entry('C'), ttlMs: 60_000 },
    ])
    expect((await chaos.getMany(['a', 'b', 'c', 'x'])).map((e) => e?.value)).toEqual([
      'A',
      'B',
      'C',
      undefined,
    ])
    await chaos.delete('a')
    expect(inner.get('a')).toBeUndefined()
    await chaos.deleteMany(['b'])
    expect(inner.get('b')).toBeUndefined()
    expect(inner.get('c')?.value).toBe('C')
    await chaos.clear()
    expect(inner.size).toBe(0)
    expect(chaos.counts).toEqual({ calls: 7, failed: 0, hung: 0 })
  })

  it('serves a cache built on it', async () => {
    const { cache, inner } = setup()
    await cache.set('k', 'v')
    expect(await cache.get('k')).toBe('v')
    expect(inner.size).toBe(1)
    expect(await cache.wrap('w', async () => 'computed')).toBe('computed')
    expect(await cache.get('w')).toBe('computed')
  })

  it('binds the wrapped layer to the cache: its clock, and its one-cache rule', async () => {
    const clock = manualClock()
    const inner = memoryLayer({ name: 'store' })
    const chaos = chaosLayer(inner)
    createCache({ clock, layers: [chaos] })
    await chaos.set('k', entry('v'), 1_000)
    clock.advance(999)
    expect((await chaos.get('k'))?.value).toBe('v')
    clock.advance(1)
    expect(await chaos.get('k')).toBeUndefined()
    expect(() => createCache({ layers: [inner] })).toThrow(/already belongs to another cache/)
  })
})

describe("chaosLayer: mode = 'down'", () => {
  it('rejects every call with an Error naming the layer and the operation', async () => {
    const { inner, chaos } = setup()
    inner.set('k', entry('v'), 60_000)
    chaos.mode = 'down'
    const calls: [string, () => Promise<unknown>][] = [
      ['get', () => chaos.get('k')],
      ['getMany', () => chaos.getMany(['k'])],
      ['set', () => chaos.set('other', entry('x'), 60_000)],
      ['setMany', () => chaos.setMany([{ key: 'other', entry: entry('x'), ttlMs: 60_000 }])],
      ['delete', () => chaos.delete('k')],
      ['deleteMany', () => chaos.deleteMany(['k'])],
      ['clear', () => chaos.clear()],
    ]
    for (const [operation, call] of calls) {
      const error = await call().then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(error, operation).toBeInstanceOf(Error)
      expect((error as Error).message).toContain('"store"')
      expect((error as Error).message).toContain(operation)
    }
    expect(chaos.counts).toEqual({ calls: 7, failed: 7, hung: 0 })
    // Nothing reached the wrapped layer.
    expect(inner.get('k')?.value).toBe('v')
    expect(inner.get('other')).toBeUndefined()
  })

  it('ignores the rates and does not consume randomness', async () => {
    const random = sequence([0.99])
    const { chaos } = setup({ errorRate: 0, random: random.random })
    chaos.mode = 'down'
    await expect(chaos.get('k')).rejects.toThrow(/"store"/)
    await expect(chaos.get('k')).rejects.toThrow(/"store"/)
    expect(random.used()).toBe(0)
    chaos.mode = 'normal'
    expect(await chaos.get('k')).toBeUndefined()
    expect(random.used()).toBe(1)
  })

  it('behaves again once the mode is back to normal', async () => {
    const { chaos, inner } = setup()
    chaos.mode = 'down'
    await expect(chaos.set('k', entry('v'), 60_000)).rejects.toThrow()
    chaos.mode = 'normal'
    await chaos.set('k', entry('v'), 60_000)
    expect(inner.get('k')?.value).toBe('v')
    expect(chaos.counts).toEqual({ calls: 2, failed: 1, hung: 0 })
  })
})

describe("chaosLayer: mode = 'hang'", () => {
  it('never settles a call until heal(), which rejects every hung call', async () => {
    const { chaos, inner } = setup()
    chaos.mode = 'hang'
    const calls = [
      track(chaos.get('k')),
      track(chaos.set('k', entry('v'), 60_000)),
      track(chaos.getMany(['k'])),
      track(chaos.clear()),
    ]
    expect(chaos.hanging).toBe(4)
    await tick()
    expect(calls.map((c) => c.settled)).toEqual([false, false, false, false])
    expect(chaos.hanging).toBe(4)
    expect(chaos.counts).toEqual({ calls: 4, failed: 0, hung: 4 })
    expect(inner.get('k')).toBeUndefined()

    chaos.heal()
    expect(chaos.hanging).toBe(0)
    expect(chaos.mode).toBe('normal')
    await tick(0)
    for (const call of calls) {
      expect(call.settled).toBe(true)
      expect(call.error).toBeInstanceOf(Error)
      expect((call.error as Error).message).toMatch(/"store" healed/)
    }
    // The hung write never reached the wrapped layer, and calls pass through again.
    expect(inner.get('k')).toBeUndefined()
    await chaos.set('k', entry('v'), 60_000)
    expect(inner.get('k')?.value).toBe('v')
  })

  it('releases hung calls on close()', async () => {
    const { chaos } = setup()
    chaos.mode = 'hang'
    const call = track(chaos.get('k'))
    expect(chaos.hanging).toBe(1)
    await chaos.close()
    await tick(0)
    expect(call.settled).toBe(true)
    expect(call.error).toBeInstanceOf(Error)
    expect(chaos.hanging).toBe(0)
  })

  it('heal() with nothing hung is harmless', () => {
    const { chaos } = setup()
    chaos.mode = 'down'
    chaos.heal()
    expect(chaos.mode).toBe('normal')
    expect(chaos.hanging).toBe(0)
  })
})

describe('chaosLayer: rates', () => {
  it('fails the calls whose roll is below errorRate, and only those', async () => {
    const random = sequence([0.49, 0.5, 0, 0.99, 0.25])
    const { chaos } = setup({ errorRate: 0.5, random: random.random })
    const result = await outcomes([
      chaos.get('a'),
      chaos.get('b'),
      chaos.get('c'),
      chaos.get('d'),
      chaos.get('e'),
    ])
    expect(result).toEqual(['failed', 'ok', 'failed', 'ok', 'failed'])
    expect(chaos.counts).toEqual({ calls: 5, failed: 3, hung: 0 })
    expect(random.used()).toBe(5)
  })

  it('hangs rolls below hangRate, fails rolls in [hangRate, hangRate + errorRate)', async () => {
    const random = sequence([0.1, 0.2, 0.3, 0.49, 0.5, 0.9, 0])
    const { chaos } = setup({ hangRate: 0.2, errorRate: 0.3, random: random.random })
    const result = await outcomes([
      chaos.get('a'),
      chaos.set('b', entry('B'), 60_000),
      chaos.get('c'),
      chaos.delete('d'),
      chaos.get('e'),
      chaos.getMany(['f']),
      chaos.get('g'),
    ])
    expect(result).toEqual(['hung', 'failed', 'failed', 'failed', 'ok', 'ok', 'hung'])
    expect(chaos.counts).toEqual({ calls: 7, failed: 3, hung: 2 })
    expect(chaos.hanging).toBe(2)
    chaos.heal()
    expect(chaos.hanging).toBe(0)
  })

  it('never fails or hangs with rates of 0, even on a roll of 0', async () => {
    const { chaos } = setup({ random: () => 0 })
    expect(await outcomes([chaos.get('a'), chaos.get('b'), chaos.get('c')])).toEqual([
      'ok',
      'ok',
      'ok',
    ])
    expect(chaos.counts).toEqual({ calls: 3, failed: 0, hung: 0 })
  })

  it('fails every call with errorRate 1, and hangs every call with hangRate 1', async () => {
    const failing = setup({ errorRate: 1, random: () => 0.999_999 })
    expect(await outcomes([failing.chaos.get('a'), failing.chaos.get('b')])).toEqual([
      'failed',
      'failed',
    ])
    const hanging = setup({ hangRate: 1, random: () => 0.999_999 })
    expect(await outcomes([hanging.chaos.get('a'), hanging.chaos.get('b')])).toEqual([
      'hung',
      'hung',
    ])
    hanging.chaos.heal()
  })

  it('names the layer in an injected failure', async () => {
    const { chaos } = setup({ errorRate: 1, random: () => 0 })
    await expect(chaos.set('k', entry('v'), 1_000)).rejects.toThrow(
      'chaos: set on layer "store" failed on purpose',
    )
  })
})

describe('chaosLayer: latency', () => {
  /** Milliseconds a call takes; the loop's clock is refreshed first so timers start on time. */
  async function elapsed(call: () => Promise<unknown>): Promise<number> {
    await new Promise((resolve) => setImmediate(resolve))
    const started = performance.now()
    await call()
    return performance.now() - started
  }

  // Timers run on the event loop's millisecond clock; allow 1 ms of rounding below the minimum.
  const SLACK = 1

  it('delays each call by a fixed latency, and still passes it through', async () => {
    const { chaos, inner } = setup({ latency: 5 })
    expect(await elapsed(() => chaos.set('k', entry('v'), 60_000))).toBeGreaterThanOrEqual(
      5 - SLACK,
    )
    expect(inner.get('k')?.value).toBe('v')
    expect(await elapsed(() => chaos.get('k'))).toBeGreaterThanOrEqual(5 - SLACK)
  })

  it('accepts a duration string', async () => {
    const { chaos } = setup({ latency: '6ms' })
    expect(await elapsed(() => chaos.get('k'))).toBeGreaterThanOrEqual(6 - SLACK)
  })

  it('draws a latency in [min, max] from random', async () => {
    const { chaos } = setup({ latency: ['4ms', '12ms'], random: () => 0.5 })
    expect(await elapsed(() => chaos.get('k'))).toBeGreaterThanOrEqual(8 - SLACK)
  })
})

describe('chaosLayer: invalid options', () => {
  it('refuses rates outside [0, 1] or not numbers, naming the option', () => {
    for (const errorRate of [2, -0.1, Number.NaN, '0.5', null]) {
      expect(invalid({ errorRate }).message).toContain('chaosLayer.errorRate')
    }
    for (const hangRate of [1.5, -1, Number.POSITIVE_INFINITY]) {
      expect(invalid({ hangRate }).message).toContain('chaosLayer.hangRate')
    }
  })

  it('accepts the bounds 0 and 1', () => {
    expect(() => chaosLayer(memoryLayer(), { errorRate: 0, hangRate: 1 })).not.toThrow()
    expect(() => chaosLayer(memoryLayer(), { errorRate: 1, hangRate: 0 })).not.toThrow()
  })

  it('refuses an unknown option, naming it', () => {
    expect(invalid({ errorrate: 0.1 }).message).toContain('errorrate')
    expect(invalid({ failRate: 0.1 }).message).toContain('is not a known option')
  })

  it('refuses options that are not an object', () => {
    invalid(null)
    invalid([])
    invalid('fast')
  })

  it('refuses a malformed latency', () => {
    for (const latency of ['soon', -5, ['1ms', 'later'], ['1ms']]) {
      expect(invalid({ latency }).message).toContain('chaosLayer.latency')
    }
  })

  it('refuses a random that is not a function', () => {
    expect(invalid({ random: 0.5 }).message).toContain('random')
  })
})

describe('chaosLayer: a cache fails open while its L2 is down', () => {
  function withChaosL2() {
    const l2 = memoryLayer({ name: 'l2' })
    const chaos = chaosLayer(l2)
    const cache = createCache({ layers: [memoryLayer({ name: 'l1' }), chaos] })
    const errors: { operation: string; layer?: string; key?: string; message: string }[] = []
    cache.on('error', ({ operation, layer, key, error }) =>
      errors.push({ operation, layer, key, message: (error as Error).message }),
    )
    return { l2, chaos, cache, errors }
  }

  it('serves from L1 and from the factory, and emits error events', async () => {
    const { chaos, cache, errors } = withChaosL2()
    await cache.set('warm', 'W')
    chaos.mode = 'down'

    // An L1 hit never touches L2.
    expect(await cache.get('warm')).toBe('W')
    expect(errors).toEqual([])

    // A miss: L2 fails, the factory answers, and the next call is served by L1.
    let runs = 0
    expect(await cache.wrap('cold', async () => `computed ${++runs}`)).toBe('computed 1')
    expect(await cache.wrap('cold', async () => `computed ${++runs}`)).toBe('computed 1')
    expect(runs).toBe(1)
    expect(errors.map(({ operation, layer, key }) => ({ operation, layer, key }))).toEqual([
      { operation: 'get', layer: 'l2', key: 'cold' },
      { operation: 'set', layer: 'l2', key: 'cold' },
    ])
    expect(errors.every((e) => e.message.includes('"l2"'))).toBe(true)
    expect(cache.stats().layers.l2?.errors).toBe(2)
  })

  it('reads a key held only by the down L2 as a miss, and writes do not fail', async () => {
    const { l2, chaos, cache, errors } = withChaosL2()
    await cache.set('k', 'v')
    expect(l2.get('k')?.value).toBe('v')
    chaos.mode = 'down'
    // Drop it from L1 only: L2 still holds it but cannot be read.
    await cache.set('other', 'x')
    await cache.delete('k')
    expect(await cache.get('k')).toBeUndefined()
    await cache.set('n', 'new')
    expect(await cache.get('n')).toBe('new')
    expect(l2.get('n')).toBeUndefined()
    expect(errors.map((e) => `${e.operation} ${e.layer}`)).toEqual([
      'set l2',
      'delete l2',
      'get l2',
      'set l2',
    ])

    // Back up: writes reach L2 again.
    chaos.heal()
    await cache.set('after', 'A')
    expect(l2.get('after')?.value).toBe('A')
    expect(errors).toHaveLength(4)
  })
})
