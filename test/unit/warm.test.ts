import { describe, expect, it } from 'vitest'
import {
  CacheError,
  type CacheEvents,
  createCache,
  type WarmItem,
  type WarmReport,
} from '../../src/index.js'
import { settle, track } from '../helpers/async.js'
import { manualClock } from '../helpers/clock.js'
import { deferred } from '../helpers/map-layer.js'

/** A cache on a manual clock: backoffs and durations move only when the test says so. */
function setup() {
  const clock = manualClock()
  const cache = createCache({ clock })
  return { clock, cache }
}

const items = (keys: readonly string[], factory: (key: string) => unknown): WarmItem[] =>
  keys.map((key) => ({ key, factory: () => factory(key) }))

const sorted = (keys: readonly string[]) => [...keys].sort()

/** Expects `promise` to reject with E_INVALID_OPTION naming `option`. */
async function expectInvalid(promise: Promise<unknown>, option: string) {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(CacheError)
  expect((error as CacheError).code).toBe('E_INVALID_OPTION')
  expect((error as CacheError).message).toContain(`\`${option}\``)
}

describe('warm: bounded concurrency', () => {
  it('never runs more than `concurrency` factories at once, and starts the next as one ends', async () => {
    const { cache } = setup()
    const gates = new Map<string, ReturnType<typeof deferred<string>>>()
    const started: string[] = []
    let active = 0
    let peak = 0
    const keys = Array.from({ length: 10 }, (_, i) => `k${i}`)
    const warming = track(
      cache.warm(
        items(keys, async (key) => {
          started.push(key)
          active++
          peak = Math.max(peak, active)
          const gate = deferred<string>()
          gates.set(key, gate)
          try {
            return await gate.promise
          } finally {
            active--
          }
        }),
        { concurrency: 3 },
      ),
    )
    await settle()
    expect(started).toEqual(['k0', 'k1', 'k2'])
    expect(active).toBe(3)

    // One ends: exactly one more starts, never a fourth at once.
    gates.get('k1')!.resolve('v1')
    await settle()
    expect(started).toEqual(['k0', 'k1', 'k2', 'k3'])
    expect(active).toBe(3)

    // Release the rest as they come.
    while (started.length < keys.length || active > 0) {
      for (const key of started) gates.get(key)?.resolve(`v-${key}`)
      await settle()
    }
    await settle()
    expect(warming.done).toBe(true)
    expect(peak).toBe(3)
    const report = warming.value as WarmReport
    expect(sorted(report.succeeded)).toEqual(sorted(keys))
    expect(await cache.get('k1')).toBe('v1')
    expect(await cache.get('k9')).toBe('v-k9')
  })

  it('defaults to 4 at once, and 1 runs them strictly one after another', async () => {
    for (const [concurrency, expected] of [
      [undefined, 4],
      [1, 1],
    ] as const) {
      const { cache } = setup()
      const gate = deferred<string>()
      let active = 0
      let peak = 0
      const warming = cache.warm(
        items(
          Array.from({ length: 8 }, (_, i) => `k${i}`),
          async () => {
            active++
            peak = Math.max(peak, active)
            try {
              return await gate.promise
            } finally {
              active--
            }
          },
        ),
        concurrency === undefined ? {} : { concurrency },
      )
      await settle()
      expect(active).toBe(expected)
      gate.resolve('v')
      const report = await warming
      expect(peak).toBe(expected)
      expect(report.succeeded).toHaveLength(8)
    }
  })
})

describe('warm: fresh keys', () => {
  it('skips keys still fresh in some layer and recomputes expired ones', async () => {
    const { cache, clock } = setup()
    await cache.set('old', 'kept-old', { ttl: '1s' })
    clock.advance(2_000) // 'old' is expired now
    await cache.set('a', 'cached-a')
    await cache.set('c', 'cached-c')
    const runs: string[] = []
    const report = await cache.warm(
      items(['a', 'b', 'c', 'd', 'old'], (key) => {
        runs.push(key)
        return `new-${key}`
      }),
    )
    expect(sorted(runs)).toEqual(['b', 'd', 'old'])
    expect(sorted(report.skipped)).toEqual(['a', 'c'])
    expect(sorted(report.succeeded)).toEqual(['b', 'd', 'old'])
    expect(await cache.get('a')).toBe('cached-a') // not overwritten
    expect(await cache.get('old')).toBe('new-old')
  })

  it('gives each item its wrap options: policy, ttl and tags', async () => {
    const clock = manualClock()
    const cache = createCache({ clock, policies: { short: { ttl: '10s' } } })
    const report = await cache.warm([
      { key: 'p', factory: () => 'by-policy', policy: 'short' },
      { key: 't', factory: () => 'tagged', tags: ['dash'] },
      { key: 'ttl', factory: () => 'own-ttl', ttl: '1m' },
    ])
    expect(sorted(report.succeeded)).toEqual(['p', 't', 'ttl'])
    expect(await cache.has('t')).toBe(true)
    await cache.invalidateTags(['dash'])
    expect(await cache.has('t')).toBe(false)
    clock.advance(10_001)
    expect(await cache.has('p')).toBe(false) // the policy's 10s
    expect(await cache.has('ttl')).toBe(true) // its own 1m
  })
})

describe('warm: retries with exponential backoff on the cache clock', () => {
  it('waits backoff * 2^n before retry n+1, and never earlier', async () => {
    const { cache, clock } = setup()
    const attempts: number[] = []
    const warming = track(
      cache.warm(
        [
          {
            key: 'flaky',
            factory: () => {
              attempts.push(clock.now())
              if (attempts.length < 4) throw new Error(`fail ${attempts.length}`)
              return 'finally'
            },
          },
        ],
        { retries: 3, backoff: '100ms' },
      ),
    )
    const t0 = clock.now()
    await settle()
    expect(attempts).toEqual([t0])
    // Retry 1 after 100 ms, retry 2 after 200 more, retry 3 after 400 more.
    for (const [wait, count] of [
      [100, 2],
      [200, 3],
      [400, 4],
    ] as const) {
      clock.advance(wait - 1)
      await settle()
      expect(attempts).toHaveLength(count - 1) // not a millisecond early
      clock.advance(1)
      await settle()
      expect(attempts).toHaveLength(count)
    }
    expect(attempts).toEqual([t0, t0 + 100, t0 + 300, t0 + 700])
    await settle()
    expect(warming.done).toBe(true)
    const report = warming.value as WarmReport
    expect(report.succeeded).toEqual(['flaky'])
    expect(report.failed).toEqual([])
    expect(report.durationMs).toBe(700)
    expect(await cache.get('flaky')).toBe('finally')
  })

  it('by default retries twice (100 ms, then 200 ms) and reports the last error', async () => {
    const { cache, clock } = setup()
    let runs = 0
    const warming = track(
      cache.warm([
        {
          key: 'down',
          factory: () => {
            runs++
            throw new Error(`fail ${runs}`)
          },
        },
      ]),
    )
    await settle()
    expect(runs).toBe(1)
    clock.advance(100)
    await settle()
    expect(runs).toBe(2)
    clock.advance(199)
    await settle()
    expect(runs).toBe(2)
    clock.advance(1)
    await settle()
    expect(runs).toBe(3)
    clock.advance(10_000)
    await settle()
    expect(runs).toBe(3) // no fourth attempt
    expect(warming.done).toBe(true)
    const report = warming.value as WarmReport
    expect(report.failed).toHaveLength(1)
    expect(report.failed[0]!.key).toBe('down')
    expect((report.failed[0]!.error as Error).message).toBe('fail 3')
    expect(report.durationMs).toBe(300)
    expect(await cache.has('down')).toBe(false)
  })

  it('retries: 0 fails an item at its first error, with no wait', async () => {
    const { cache } = setup()
    let runs = 0
    const report = await cache.warm(
      [
        {
          key: 'k',
          factory: () => {
            runs++
            throw new Error('no')
          },
        },
      ],
      { retries: 0 },
    )
    expect(runs).toBe(1)
    expect(report.failed.map((f) => f.key)).toEqual(['k'])
    expect(report.durationMs).toBe(0)
  })
})

describe('warm: the report', () => {
  it('lists succeeded, failed (with their errors), skipped, cancelled and the duration on the cache clock', async () => {
    const { cache, clock } = setup()
    await cache.set('fresh', 'already')
    const boom = new Error('boom')
    const slow = deferred<string>()
    const errors: CacheEvents['error'][] = []
    cache.on('error', (event) => errors.push(event))
    const warming = cache.warm(
      [
        { key: 'fresh', factory: () => 'never' },
        { key: 'slow', factory: () => slow.promise },
        {
          key: 'bad',
          factory: () => {
            throw boom
          },
        },
        { key: 'quick', factory: async () => 'q' },
      ],
      { retries: 0, concurrency: 4 },
    )
    await settle()
    clock.advance(250)
    slow.resolve('s')
    const report = await warming
    expect(report).toEqual({
      total: 4,
      succeeded: expect.any(Array),
      failed: [{ key: 'bad', error: boom }],
      skipped: ['fresh'],
      cancelled: 0,
      durationMs: 250,
    })
    expect(report.failed[0]!.error).toBe(boom) // the factory's own error
    expect(sorted(report.succeeded)).toEqual(['quick', 'slow'])
    // A failure is reported as an error event, like other handled failures.
    expect(errors.map((e) => [e.operation, e.key, e.error])).toEqual([['warm', 'bad', boom]])
    expect(cache.stats().errors).toBe(1)
  })

  it('an empty source resolves to an empty report', async () => {
    const { cache } = setup()
    expect(await cache.warm([])).toEqual({
      total: 0,
      succeeded: [],
      failed: [],
      skipped: [],
      cancelled: 0,
      durationMs: 0,
    })
  })
})

describe('warm: one failure never aborts the others', () => {
  it('every other item is computed and stored while one throws (sync or async) at each attempt', async () => {
    const { cache, clock } = setup()
    const warming = track(
      cache.warm(
        [
          {
            key: 'sync-throw',
            factory: () => {
              throw new Error('sync')
            },
          },
          ...items(['a', 'b'], (key) => `v-${key}`),
          { key: 'reject', factory: () => Promise.reject(new Error('async')) },
          ...items(['c', 'd'], (key) => `v-${key}`),
        ],
        { concurrency: 1, retries: 1, backoff: '1s' },
      ),
    )
    await settle()
    clock.advance(1_000)
    await settle()
    clock.advance(1_000)
    await settle()
    expect(warming.done).toBe(true)
    const report = warming.value as WarmReport
    expect(sorted(report.succeeded)).toEqual(['a', 'b', 'c', 'd'])
    expect(sorted(report.failed.map((f) => f.key))).toEqual(['reject', 'sync-throw'])
    for (const key of ['a', 'b', 'c', 'd']) expect(await cache.get(key)).toBe(`v-${key}`)
  })

  it('a malformed item (bad key, no factory, not an object) fails alone, at once, without retries', async () => {
    const { cache } = setup()
    const started: string[] = []
    const good = (key: string) => ({
      key,
      factory: () => {
        started.push(key)
        return `v-${key}`
      },
    })
    const warming = track(
      cache.warm([good('a'), good(''), { key: 'no-factory' } as never, null as never, good('c')], {
        concurrency: 1,
        retries: 3,
        backoff: '1s',
      }),
    )
    await settle() // no clock advance: bad input is not retried after a backoff
    expect(warming.done).toBe(true)
    const report = warming.value as WarmReport
    expect(started).toEqual(['a', 'c'])
    expect(sorted(report.succeeded)).toEqual(['a', 'c'])
    expect(report.failed.map((f) => (f.error as CacheError).code)).toEqual([
      'E_INVALID_KEY',
      'E_INVALID_OPTION',
      'E_INVALID_OPTION',
    ])
    expect(report.failed[0]!.key).toBe('')
    expect(report.failed[1]!.key).toBe('no-factory')
    expect(report.total).toBe(5)
  })

  it('an item whose wrap options are invalid fails without retries', async () => {
    const { cache } = setup()
    let runs = 0
    const warming = track(
      cache.warm([
        {
          key: 'k',
          policy: 'no-such-policy',
          factory: () => {
            runs++
            return 'v'
          },
        },
      ]),
    )
    await settle()
    expect(warming.done).toBe(true)
    const report = warming.value as WarmReport
    expect(report.failed.map((f) => (f.error as CacheError).code)).toEqual(['E_INVALID_OPTION'])
    expect(runs).toBe(0)
  })
})

describe('warm: cancellation', () => {
  it('stops starting items once the signal aborts; those not started are counted as cancelled', async () => {
    const { cache } = setup()
    const controller = new AbortController()
    const gate = deferred<string>()
    const started: string[] = []
    const keys = ['a', 'b', 'c', 'd', 'e', 'f']
    const warming = cache.warm(
      items(keys, (key) => {
        started.push(key)
        return gate.promise
      }),
      { concurrency: 2, signal: controller.signal },
    )
    await settle()
    expect(started).toEqual(['a', 'b'])
    controller.abort()
    gate.resolve('v')
    const report = await warming
    expect(started).toEqual(['a', 'b']) // nothing started after the abort
    expect(sorted(report.succeeded)).toEqual(['a', 'b']) // those running finish
    expect(report.cancelled).toBe(4)
    expect(report.total).toBe(6)
    for (const key of ['c', 'd', 'e', 'f']) expect(await cache.has(key)).toBe(false)
  })

  it('a signal aborted before the call starts nothing', async () => {
    const { cache } = setup()
    let runs = 0
    const report = await cache.warm(
      items(['a', 'b', 'c'], () => {
        runs++
        return 'v'
      }),
      { signal: AbortSignal.abort() },
    )
    expect(runs).toBe(0)
    expect(report).toMatchObject({ total: 3, succeeded: [], failed: [], skipped: [], cancelled: 3 })
  })

  it('an item waiting for its retry is not retried once the signal aborts: it fails', async () => {
    const { cache, clock } = setup()
    const controller = new AbortController()
    let runs = 0
    const warming = track(
      cache.warm(
        [
          {
            key: 'flaky',
            factory: () => {
              runs++
              throw new Error(`fail ${runs}`)
            },
          },
        ],
        { retries: 5, backoff: '1s', signal: controller.signal },
      ),
    )
    await settle()
    expect(runs).toBe(1) // now waiting 1s for its first retry
    controller.abort()
    clock.advance(60_000)
    await settle()
    expect(runs).toBe(1)
    expect(warming.done).toBe(true)
    expect((warming.value as WarmReport).failed.map((f) => f.key)).toEqual(['flaky'])
  })
})

describe('warm: sources', () => {
  const expectAll = async (source: Parameters<ReturnType<typeof setup>['cache']['warm']>[0]) => {
    const { cache } = setup()
    const report = await cache.warm(source)
    expect(report.total).toBe(3)
    expect(sorted(report.succeeded)).toEqual(['x', 'y', 'z'])
    for (const key of ['x', 'y', 'z']) expect(await cache.get(key)).toBe(`v-${key}`)
  }
  const list = () => items(['x', 'y', 'z'], (key) => `v-${key}`)

  it('takes an array, a Set or a generator', async () => {
    await expectAll(list())
    await expectAll(new Set(list()))
    await expectAll(
      (function* () {
        yield* list()
      })(),
    )
  })

  it('takes a function giving items, a promise of them, or an async iterable', async () => {
    await expectAll(() => list())
    await expectAll(async () => list())
    await expectAll(async function* () {
      for (const item of list()) {
        await Promise.resolve()
        yield item
      }
    })
    await expectAll(
      (async function* () {
        yield* list()
      })(),
    )
  })

  it('calls a function source once per warm', async () => {
    const { cache } = setup()
    let calls = 0
    const source = () => {
      calls++
      return list()
    }
    await cache.warm(source)
    await cache.warm(source)
    expect(calls).toBe(2)
  })
})

describe('warm: progress events', () => {
  it('emits one warm event per item with its outcome and done/total', async () => {
    const { cache } = setup()
    await cache.set('s', 'fresh')
    const events: CacheEvents['warm'][] = []
    cache.on('warm', (event) => events.push(event))
    await cache.warm(
      [
        { key: 'ok1', factory: () => 1 },
        { key: 's', factory: () => 2 },
        {
          key: 'bad',
          factory: () => {
            throw new Error('x')
          },
        },
        { key: 'ok2', factory: () => 3 },
      ],
      { concurrency: 1, retries: 0 },
    )
    expect(events).toEqual([
      { key: 'ok1', outcome: 'succeeded', done: 1, total: 4 },
      { key: 's', outcome: 'skipped', done: 2, total: 4 },
      { key: 'bad', outcome: 'failed', done: 3, total: 4 },
      { key: 'ok2', outcome: 'succeeded', done: 4, total: 4 },
    ])
  })

  it('counts done up to total with items finishing out of order', async () => {
    const { cache } = setup()
    const gates = ['a', 'b', 'c'].map(() => deferred<string>())
    const events: CacheEvents['warm'][] = []
    cache.on('warm', (event) => events.push(event))
    const warming = cache.warm(
      ['a', 'b', 'c'].map((key, i) => ({ key, factory: () => gates[i]!.promise })),
    )
    await settle()
    gates[2]!.resolve('c')
    await settle()
    expect(events).toEqual([{ key: 'c', outcome: 'succeeded', done: 1, total: 3 }])
    gates[0]!.resolve('a')
    gates[1]!.resolve('b')
    await warming
    expect(events.map((e) => [e.key, e.done])).toEqual([
      ['c', 1],
      ['a', 2],
      ['b', 3],
    ])
  })
})

describe('warm: bad options', () => {
  it('rejects malformed options with E_INVALID_OPTION naming the option, before any factory runs', async () => {
    const { cache } = setup()
    let runs = 0
    const source = items(['a'], () => {
      runs++
      return 'v'
    })
    const cases: [unknown, string][] = [
      [{ concurrency: 0 }, 'warm options.concurrency'],
      [{ concurrency: -1 }, 'warm options.concurrency'],
      [{ concurrency: 1.5 }, 'warm options.concurrency'],
      [{ concurrency: '2' }, 'warm options.concurrency'],
      [{ concurrency: Number.POSITIVE_INFINITY }, 'warm options.concurrency'],
      [{ retries: -1 }, 'warm options.retries'],
      [{ retries: 0.5 }, 'warm options.retries'],
      [{ retries: 'x' }, 'warm options.retries'],
      [{ backoff: 'soon' }, 'warm options.backoff'],
      [{ backoff: -5 }, 'warm options.backoff'],
      [{ concurency: 2 }, 'warm options.concurency'],
      ['fast', 'warm options'],
      [null, 'warm options'],
    ]
    for (const [options, option] of cases) {
      await expectInvalid(cache.warm(source, options as never), option)
    }
    expect(runs).toBe(0)
  })

  it('rejects a source that gives no items', async () => {
    const { cache } = setup()
    await expectInvalid(cache.warm(42 as never), 'warm items')
    await expectInvalid(cache.warm((() => null) as never), 'warm items')
    await expectInvalid(cache.warm((async () => 'abc') as never), 'warm items')
    await expectInvalid(cache.warm({ key: 'a', factory: () => 1 } as never), 'warm items')
  })

  it('refuses `force` (fresh keys are always skipped)', async () => {
    const { cache } = setup()
    await expectInvalid(
      cache.warm([{ key: 'a', factory: () => 'new' }], { force: true } as never),
      'warm options.force',
    )
  })

  it('after close(), warm returns a promise rejected with E_CLOSED', async () => {
    const { cache } = setup()
    await cache.close()
    let result: Promise<unknown> | undefined
    expect(() => {
      result = cache.warm([])
    }).not.toThrow()
    await expect(result).rejects.toMatchObject({ code: 'E_CLOSED' })
  })
})
