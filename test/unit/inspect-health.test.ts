import { describe, expect, it } from 'vitest'
import {
  type Cache,
  createCache,
  type Entry,
  type InspectOptions,
  type Layer,
  memoryLayer,
  resilient,
} from '../../src/index.js'
import { chaosLayer, memoryBusHub } from '../../src/testing/index.js'
import { settle, track } from '../helpers/async.js'
import { manualClock } from '../helpers/clock.js'
import { expectCacheError } from '../helpers/errors.js'
import { MapLayer } from '../helpers/map-layer.js'

const START = 1_000_000 // manualClock's start

/** A shared-store stand-in that keeps what it is given for ever, like a store without TTLs. */
class KeepingLayer extends MapLayer {
  override async set(key: string, entry: Entry, _ttlMs: number): Promise<void> {
    await super.set(key, entry, Number.POSITIVE_INFINITY)
  }
}

function twoLayers<L extends Layer = MapLayer>(lower: L = new MapLayer('l2') as Layer as L) {
  const clock = manualClock(START)
  const l1 = memoryLayer({ name: 'l1' })
  const cache = createCache({
    clock,
    layers: [l1, lower],
    policies: { default: { ttl: '1s', staleWhileRevalidate: '10s' }, reports: { ttl: '1h' } },
  })
  return { clock, l1, l2: lower, cache }
}

/** Every event a cache emits, by name. */
function recordEvents(cache: Cache): string[] {
  const log: string[] = []
  for (const name of ['hit', 'miss', 'set', 'stale', 'refresh', 'error'] as const) {
    cache.on(name, () => log.push(name))
  }
  return log
}

describe('inspect: the envelope in every layer', () => {
  it('reports a fresh entry in each layer with its age, freshness left, tags and policy', async () => {
    const { clock, cache } = twoLayers()
    await cache.wrap(
      'k',
      () => {
        clock.advance(30) // the factory takes 30ms
        return 'v'
      },
      { tags: ['user:1'], policy: 'reports' },
    )
    clock.advance(970)
    const report = await cache.inspect('k')
    const fresh = {
      state: 'fresh',
      createdAt: START,
      ageMs: 1_000,
      ttlLeftMs: 3_600_000 + 30 - 1_000,
      staleLeftMs: 3_600_000 + 10_000 + 30 - 1_000, // reports extends default: 10s stale window
      tags: ['user:1'],
      policy: 'reports',
      computeMs: 30,
    }
    expect(report).toEqual({
      key: 'k',
      layers: [
        { layer: 'l1', ...fresh },
        { layer: 'l2', ...fresh },
      ],
    })
  })

  it('reports null freshness left for an entry that never expires', async () => {
    const { cache } = twoLayers()
    await cache.set('k', 'v', { ttl: Number.POSITIVE_INFINITY })
    const [l1] = (await cache.inspect('k')).layers
    expect(l1).toMatchObject({ state: 'fresh', ttlLeftMs: null, staleLeftMs: null })
    expect(JSON.parse(JSON.stringify(l1))).toEqual(l1) // JSON-safe
  })

  it('reports stale within the stale window, with negative freshness left', async () => {
    const { clock, cache } = twoLayers()
    await cache.set('k', 'v')
    clock.advance(1_500)
    const { layers } = await cache.inspect('k')
    for (const layer of layers) {
      expect(layer).toMatchObject({
        state: 'stale',
        ageMs: 1_500,
        ttlLeftMs: -500,
        staleLeftMs: 9_500,
      })
    }
  })

  it('reports stale for an entry whose tags were invalidated in stale mode', async () => {
    const { cache } = twoLayers()
    await cache.set('k', 'v', { tags: ['t'] })
    await cache.invalidateTags(['t'], { mode: 'stale' })
    const { layers } = await cache.inspect('k')
    expect(layers.map((l) => l.state)).toEqual(['stale', 'stale'])
    expect(layers[0]!.ttlLeftMs).toBeGreaterThan(0) // not past its TTL: stale by its tag
  })

  it('reports invalidated for an entry still stored after its tag was invalidated', async () => {
    const { cache } = twoLayers()
    await cache.set('k', 'v', { tags: ['t'] })
    await cache.invalidateTags(['t'])
    expect((await cache.inspect('k')).layers.map((l) => [l.layer, l.state])).toEqual([
      ['l1', 'invalidated'],
      ['l2', 'invalidated'],
    ])
    expect(await cache.get('k')).toBeUndefined()
  })

  it('reports expired where a layer kept an entry past its stale window, missing where it did not', async () => {
    const { clock, cache } = twoLayers(new KeepingLayer('kept'))
    await cache.set('k', 'v')
    clock.advance(11_000) // ttl 1s + window 10s
    const { layers } = await cache.inspect('k')
    expect(layers).toEqual([
      { layer: 'l1', state: 'missing' },
      {
        layer: 'kept',
        state: 'expired',
        createdAt: START,
        ageMs: 11_000,
        ttlLeftMs: -10_000,
        staleLeftMs: 0,
        tags: [],
        policy: 'default',
      },
    ])
  })

  it('reports missing for a key no layer holds', async () => {
    const { cache } = twoLayers()
    expect(await cache.inspect('nothing')).toEqual({
      key: 'nothing',
      layers: [
        { layer: 'l1', state: 'missing' },
        { layer: 'l2', state: 'missing' },
      ],
    })
  })

  it('finds a long key stored under its hash', async () => {
    const { cache } = twoLayers()
    const key = `report:${'x'.repeat(300)}`
    await cache.set(key, 'v')
    const report = await cache.inspect(key)
    expect(report.key).toBe(key)
    expect(report.layers.map((l) => l.state)).toEqual(['fresh', 'fresh'])
    expect((await cache.inspect(`report:${'x'.repeat(299)}y`)).layers[1]!.state).toBe('missing')
  })

  it('reports error for a failing layer, with its message, and still the others', async () => {
    const flaky = chaosLayer(new MapLayer('l2'))
    const { cache } = twoLayers(flaky)
    await cache.set('k', 'v')
    flaky.mode = 'down'
    const { layers } = await cache.inspect('k')
    expect(layers[0]).toMatchObject({ layer: 'l1', state: 'fresh' })
    expect(layers[1]).toEqual({
      layer: 'l2',
      state: 'error',
      error: 'chaos: get on layer "l2" failed on purpose',
    })
  })

  it('reports error for a layer that does not answer within the timeout, on the cache clock', async () => {
    const hung = chaosLayer(new MapLayer('l2'))
    const { clock, cache } = twoLayers(hung)
    await cache.set('k', 'v')
    hung.mode = 'hang'
    const call = track(cache.inspect('k', { timeout: '50ms' }))
    await settle()
    expect(call.done).toBe(false)
    clock.advance(49)
    await settle()
    expect(call.done).toBe(false)
    clock.advance(1)
    await settle()
    expect(call.value).toEqual({
      key: 'k',
      layers: [
        expect.objectContaining({ layer: 'l1', state: 'fresh' }),
        { layer: 'l2', state: 'error', error: 'l2 did not answer within 50ms' },
      ],
    })
    hung.heal()
  })

  it('shows values only when asked', async () => {
    const { cache } = twoLayers()
    await cache.set('k', { secret: 's3cr3t' })
    for (const options of [undefined, {}, { value: false }] as (InspectOptions | undefined)[]) {
      const report = await cache.inspect('k', options)
      for (const layer of report.layers) expect('value' in layer).toBe(false)
      expect(JSON.stringify(report)).not.toContain('s3cr3t')
    }
    const shown = await cache.inspect('k', { value: true })
    expect(shown.layers.map((l) => l.value)).toEqual([{ secret: 's3cr3t' }, { secret: 's3cr3t' }])
    expect('value' in (await cache.inspect('missing', { value: true })).layers[0]!).toBe(false)
  })

  it('counts, announces, copies and refreshes nothing', async () => {
    const { clock, l1, l2, cache } = twoLayers()
    await cache.set('k', 'v', { policy: 'reports' })
    await cache.set('old', 'v')
    l1.delete('k') // only l2 holds it
    clock.advance(1_500) // 'old' is stale
    cache.resetStats()
    const events = recordEvents(cache)
    const writes = l2.calls.set + l2.calls.setMany
    const reports = await Promise.all([
      cache.inspect('k'),
      cache.inspect('old'),
      cache.inspect('x'),
    ])
    await settle()
    expect(reports[0]!.layers.map((l) => l.state)).toEqual(['missing', 'fresh'])
    expect(reports[1]!.layers.map((l) => l.state)).toEqual(['stale', 'stale'])
    expect(events).toEqual([])
    expect(cache.stats()).toEqual(
      expect.objectContaining({ hits: 0, misses: 0, stale: 0, refreshes: 0, factoryRuns: 0 }),
    )
    expect(cache.stats().layers).toEqual({
      l1: { hits: 0, misses: 0, sets: 0, deletes: 0, errors: 0, skipped: 0 },
      l2: { hits: 0, misses: 0, sets: 0, deletes: 0, errors: 0, skipped: 0 },
    })
    expect(l1.get('k')).toBeUndefined() // not backfilled
    expect(l2.calls.set + l2.calls.setMany).toBe(writes)
    // A get does backfill: the same setup is not inert by itself.
    expect(await cache.get('k')).toBe('v')
    expect(l1.get('k')?.value).toBe('v')
  })

  it('refuses a bad key and bad options', async () => {
    const { cache } = twoLayers()
    await expectCacheError(() => cache.inspect(''), 'E_INVALID_KEY', 'non-empty string')
    await expectCacheError(() => cache.inspect(7 as unknown as string), 'E_INVALID_KEY', '7')
    await expectCacheError(
      () => cache.inspect('k', { values: true } as InspectOptions),
      'E_INVALID_OPTION',
      'inspect options.values',
    )
    await expectCacheError(
      () => cache.inspect('k', { timeout: 'soon' }),
      'E_INVALID_OPTION',
      'inspect options.timeout',
    )
    await expectCacheError(
      () => cache.inspect('k', { timeout: 0 }),
      'E_INVALID_OPTION',
      'inspect options.timeout` must be above 0',
    )
    await expectCacheError(
      () => cache.inspect('k', { value: 'yes' as unknown as boolean }),
      'E_INVALID_OPTION',
      'inspect options.value` must be true or false',
    )
    await expectCacheError(
      () => cache.inspect('k', null as unknown as InspectOptions),
      'E_INVALID_OPTION',
      'inspect options',
    )
    await cache.close()
    await expectCacheError(() => cache.inspect('k'), 'E_CLOSED', 'inspect()')
  })
})

describe('health: a probe per layer and the bus', () => {
  it('reports a memory-only cache up, without a breaker or a bus', async () => {
    const cache = createCache({ clock: manualClock(START) })
    expect(await cache.health()).toEqual({
      status: 'up',
      layers: [{ name: 'memory', status: 'up', latencyMs: 0, breaker: 'none' }],
    })
  })

  it('reports a failing lower layer down and the cache degraded', async () => {
    const flaky = chaosLayer(new MapLayer('l2'))
    const { cache } = twoLayers(flaky)
    expect((await cache.health()).status).toBe('up')
    flaky.mode = 'down'
    expect(await cache.health()).toEqual({
      status: 'degraded',
      layers: [
        { name: 'l1', status: 'up', latencyMs: 0, breaker: 'none' },
        {
          name: 'l2',
          status: 'down',
          latencyMs: 0,
          breaker: 'none',
          error: 'chaos: get on layer "l2" failed on purpose',
        },
      ],
    })
    flaky.mode = 'normal'
    expect((await cache.health()).status).toBe('up')
  })

  it('reports the cache down when its top layer is down', async () => {
    const top = chaosLayer(memoryLayer())
    const cache = createCache({ clock: manualClock(START), layers: [top, new MapLayer('l2')] })
    top.mode = 'down'
    const report = await cache.health()
    expect(report.status).toBe('down')
    expect(report.layers.map((l) => [l.name, l.status])).toEqual([
      ['memory', 'down'],
      ['l2', 'up'],
    ])
  })

  it('bounds a hanging layer by the timeout, measured on the cache clock', async () => {
    const hung = chaosLayer(new MapLayer('l2'))
    const { clock, cache } = twoLayers(hung)
    hung.mode = 'hang'
    const call = track(cache.health({ timeout: '50ms' }))
    await settle()
    expect(call.done).toBe(false)
    clock.advance(50)
    await settle()
    expect(call.value).toEqual({
      status: 'degraded',
      layers: [
        { name: 'l1', status: 'up', latencyMs: 0, breaker: 'none' },
        {
          name: 'l2',
          status: 'down',
          latencyMs: 50,
          breaker: 'none',
          error: 'l2 did not answer within 50ms',
        },
      ],
    })
    hung.heal()
  })

  it('waits 1s by default', async () => {
    const hung = chaosLayer(new MapLayer('l2'))
    const { clock, cache } = twoLayers(hung)
    hung.mode = 'hang'
    const call = track(cache.health())
    await settle()
    clock.advance(999)
    await settle()
    expect(call.done).toBe(false)
    clock.advance(1)
    await settle()
    expect(call.done).toBe(true)
    hung.heal()
  })

  it('reports the breaker of a guarded layer, and skips the probe while it is open', async () => {
    const clock = manualClock(START)
    const flaky = chaosLayer(new MapLayer('l2'))
    const cache = createCache({
      clock,
      layers: [memoryLayer(), resilient(flaky, { breaker: { threshold: 2, cooldown: '10s' } })],
    })
    expect((await cache.health()).layers[1]).toEqual({
      name: 'l2',
      status: 'up',
      latencyMs: 0,
      breaker: 'closed',
      failures: 0,
      dirtyKeys: 0,
    })
    flaky.mode = 'down'
    const failure = 'chaos: get on layer "l2" failed on purpose'
    expect((await cache.health()).layers[1]).toMatchObject({
      status: 'down',
      breaker: 'closed',
      failures: 1,
      error: failure,
    })
    expect((await cache.health()).layers[1]).toMatchObject({
      status: 'down',
      breaker: 'open',
      failures: 2,
    })
    const calls = flaky.counts.calls
    const open = await cache.health()
    expect(flaky.counts.calls).toBe(calls) // not probed: the circuit skips it
    expect(open).toEqual({
      status: 'degraded',
      layers: [
        { name: 'memory', status: 'up', latencyMs: 0, breaker: 'none' },
        { name: 'l2', status: 'down', breaker: 'open', failures: 2, dirtyKeys: 0, error: failure },
      ],
    })
    // After the cooldown the probe is let through; a failed one opens the circuit again.
    clock.advance(10_000)
    expect((await cache.health()).layers[1]).toMatchObject({ status: 'down', breaker: 'open' })
    expect(flaky.counts.calls).toBe(calls + 1)
    clock.advance(10_000)
    flaky.mode = 'normal'
    // The probe that succeeded closed the circuit: the same report says so.
    expect((await cache.health()).layers[1]).toMatchObject({
      status: 'up',
      latencyMs: 0,
      breaker: 'closed',
      failures: 0,
    })
    expect((await cache.health()).layers[1]).toMatchObject({
      status: 'up',
      breaker: 'closed',
      failures: 0,
    })
  })

  it('reports the bus with the instances listening, and down while it is cut off', async () => {
    const hub = memoryBusHub()
    const busA = hub.bus()
    const a = createCache({ clock: manualClock(START), bus: busA })
    const b = createCache({ clock: manualClock(START), bus: hub.bus() })
    await settle()
    expect(await a.health()).toEqual({
      status: 'up',
      layers: [{ name: 'memory', status: 'up', latencyMs: 0, breaker: 'none' }],
      bus: { status: 'up', connected: true, latencyMs: 0, listeners: 2 },
    })
    busA.disconnect()
    expect(await a.health()).toMatchObject({
      status: 'degraded',
      bus: { status: 'down', connected: false, listeners: 1 },
    })
    expect((await b.health()).bus).toEqual({
      status: 'up',
      connected: true,
      latencyMs: 0,
      listeners: 1,
    })
    busA.reconnect()
    expect((await a.health()).status).toBe('up')
    await Promise.all([a.close(), b.close()])
  })

  it('reports a bus that does not answer within the timeout as down, with the error', async () => {
    const clock = manualClock(START)
    const bus = memoryBusHub().bus()
    bus.listeners = () => new Promise<number>(() => {})
    const cache = createCache({ clock, bus })
    await settle()
    const call = track(cache.health({ timeout: 20 }))
    await settle()
    expect(call.done).toBe(false)
    clock.advance(20)
    await settle()
    expect(call.value).toEqual({
      status: 'degraded',
      layers: [{ name: 'memory', status: 'up', latencyMs: 0, breaker: 'none' }],
      bus: {
        status: 'down',
        connected: true,
        latencyMs: 20,
        error: 'bus did not answer within 20ms',
      },
    })
  })

  it('refuses bad options, and answers E_CLOSED after close', async () => {
    const cache = createCache({ clock: manualClock(START) })
    await expectCacheError(
      () => cache.health({ tmeout: '1s' } as { timeout?: string }),
      'E_INVALID_OPTION',
      'health options.tmeout',
    )
    await expectCacheError(
      () => cache.health({ timeout: -5 }),
      'E_INVALID_OPTION',
      'health options.timeout',
    )
    await expectCacheError(
      () => cache.health({ timeout: 0 }),
      'E_INVALID_OPTION',
      'health options.timeout` must be above 0',
    )
    await expectCacheError(
      () => cache.health('1s' as unknown as { timeout?: string }),
      'E_INVALID_OPTION',
      'health options',
    )
    await cache.close()
    await expectCacheError(() => cache.health(), 'E_CLOSED', 'health()')
  })
})

describe('policy(): a policy in ms, JSON-safe', () => {
  function cacheWithPolicies() {
    return createCache({
      clock: manualClock(START),
      layers: [memoryLayer(), new MapLayer('l2')],
      policies: {
        default: { ttl: '5m', jitter: 0.1 },
        reports: {
          ttl: '1h',
          jitter: '30s',
          tags: ['reports'],
          layers: { memory: { ttl: '30s' } },
          staleWhileRevalidate: '10m',
          staleIfError: '1h',
          staleIfErrorRetry: '10s',
          softTimeout: '200ms',
          hardTimeout: '2s',
          earlyRefresh: 2,
          lockLease: '20s',
          negativeTtl: '15s',
        },
        forever: {
          ttl: Number.POSITIVE_INFINITY,
          layers: { l2: { ttl: Number.POSITIVE_INFINITY } },
        },
      },
    })
  }

  it('describes the default policy, with null for no timeout', () => {
    const cache = cacheWithPolicies()
    const expected = {
      name: 'default',
      ttl: 300_000,
      jitterFraction: 0.1,
      jitterMs: 0,
      tags: [],
      layers: {},
      staleWhileRevalidate: 0,
      staleIfError: 0,
      staleIfErrorRetry: 5_000,
      softTimeout: null,
      hardTimeout: null,
      earlyRefresh: 0,
      lock: 'local',
      lockLease: 10_000,
      negativeTtl: 0,
    }
    expect(cache.policy()).toEqual(expected)
    expect(cache.policy('default')).toEqual(expected)
  })

  it('describes a named policy: durations in ms, jitter in ms, layer caps by layer name', () => {
    const cache = cacheWithPolicies()
    expect(cache.policy('reports')).toEqual({
      name: 'reports',
      ttl: 3_600_000,
      jitterFraction: 0,
      jitterMs: 30_000,
      tags: ['reports'],
      layers: { memory: { ttl: 30_000 } },
      staleWhileRevalidate: 600_000,
      staleIfError: 3_600_000,
      staleIfErrorRetry: 10_000,
      softTimeout: 200,
      hardTimeout: 2_000,
      earlyRefresh: 2,
      lock: 'local',
      lockLease: 20_000,
      negativeTtl: 15_000,
    })
  })

  it('gives null for a TTL that never expires, and stays JSON-safe', () => {
    const cache = cacheWithPolicies()
    const forever = cache.policy('forever')!
    expect(forever).toMatchObject({ ttl: null, layers: { l2: { ttl: null } } })
    for (const name of cache.policyNames) {
      const info = cache.policy(name)!
      expect(JSON.parse(JSON.stringify(info))).toEqual(info)
    }
    expect(cache.policyNames).toEqual(['default', 'reports', 'forever'])
  })

  it('is undefined for an unknown name, and a copy the caller cannot change the cache through', async () => {
    const cache = cacheWithPolicies()
    expect(cache.policy('nope')).toBeUndefined()
    const info = cache.policy('reports')!
    ;(info.tags as string[]).push('mutated')
    expect(cache.policy('reports')!.tags).toEqual(['reports'])
    const result = await cache.wrapResult('k', () => 'v', { policy: 'reports' })
    expect(result.entry!.tags).toEqual(['reports'])
  })
})
