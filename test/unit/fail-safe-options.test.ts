import { describe, expect, it } from 'vitest'
import { type CacheError, createCache, type PolicyOptions } from '../../src/index.js'
import { manualClock } from '../helpers/clock.js'
import { expectCacheError } from '../helpers/errors.js'

/** Asserts `fn` throws (or rejects with) E_INVALID_OPTION whose message names `path`. */
function expectInvalid(fn: () => unknown, path: string) {
  return expectCacheError(fn, 'E_INVALID_OPTION', `\`${path}\``)
}

/** Malformed values of each fail-safe field (the field's name, the value, why it is wrong). */
const BAD: [keyof PolicyOptions, unknown, string][] = [
  ['staleWhileRevalidate', -1, 'a negative duration'],
  ['staleWhileRevalidate', 'soon', 'an unparsable duration'],
  ['staleWhileRevalidate', Number.NaN, 'NaN'],
  ['staleIfError', '5 minutes', 'an unparsable duration'],
  ['staleIfError', -5, 'a negative duration'],
  ['staleIfError', true, 'a boolean'],
  ['staleIfErrorRetry', Number.POSITIVE_INFINITY, 'an infinite retry interval'],
  ['staleIfErrorRetry', 'x', 'an unparsable duration'],
  ['softTimeout', 0, 'zero'],
  ['softTimeout', '0ms', 'zero as a string'],
  ['softTimeout', -1, 'a negative duration'],
  ['softTimeout', 'fast', 'an unparsable duration'],
  ['hardTimeout', 0, 'zero'],
  ['hardTimeout', '-2s', 'a negative duration string'],
  ['earlyRefresh', 'x', 'a string'],
  ['earlyRefresh', -1, 'a negative beta'],
  ['earlyRefresh', Number.NaN, 'a NaN beta'],
  ['earlyRefresh', Number.POSITIVE_INFINITY, 'an infinite beta'],
  ['lock', 'x', 'an unknown lock kind'],
  ['lock', true, 'a boolean'],
  ['lockLease', Number.POSITIVE_INFINITY, 'an infinite lease'],
  ['lockLease', 0, 'a zero lease'],
  ['lockLease', 'long', 'an unparsable duration'],
  ['negativeTtl', 'x', 'an unparsable duration'],
  ['negativeTtl', -1, 'a negative duration'],
]

describe('fail-safe policy fields: E_INVALID_OPTION naming the path', () => {
  it.each(BAD)('createCache rejects %s = %s (%s) in a named policy', async (field, value) => {
    await expectInvalid(
      () => createCache({ policies: { api: { [field]: value } as PolicyOptions } }),
      `policies.api.${field}`,
    )
  })

  it.each(BAD)('createCache rejects %s = %s (%s) in the default policy', async (field, value) => {
    await expectInvalid(
      () => createCache({ policies: { default: { [field]: value } as PolicyOptions } }),
      `policies.default.${field}`,
    )
  })

  it.each(BAD)('wrap rejects %s = %s (%s) per call', async (field, value) => {
    const cache = createCache()
    let runs = 0
    await expectInvalid(
      () =>
        cache.wrap(
          'k',
          async () => {
            runs++
            return 'v'
          },
          { [field]: value } as PolicyOptions,
        ),
      `wrap options.${field}`,
    )
    expect(runs).toBe(0)
    expect(await cache.has('k')).toBe(false)
  })

  it.each(BAD)('set rejects %s = %s (%s) per call', async (field, value) => {
    const cache = createCache()
    await expectInvalid(
      () => cache.set('k', 'v', { [field]: value } as PolicyOptions),
      `set options.${field}`,
    )
    expect(await cache.has('k')).toBe(false)
  })

  it("rejects lock: 'distributed' in a policy when no layer keeps leases", async () => {
    await expectInvalid(
      () => createCache({ policies: { reports: { lock: 'distributed' } } }),
      'policies.reports.lock',
    )
    await expectInvalid(
      () => createCache({ policies: { default: { lock: 'distributed' } } }),
      'policies.default.lock',
    )
    const error = (() => {
      try {
        createCache({ policies: { reports: { lock: 'distributed' } } })
      } catch (e) {
        return e as CacheError
      }
    })()
    expect(error?.message).toMatch(/lease/)
  })

  it("rejects lock: 'distributed' per call when no layer keeps leases", async () => {
    const cache = createCache()
    let runs = 0
    await expectInvalid(
      () =>
        cache.wrap(
          'k',
          async () => {
            runs++
            return 'v'
          },
          { lock: 'distributed' },
        ),
      'wrap options.lock',
    )
    expect(runs).toBe(0)
  })

  it('accepts every field when well-formed', async () => {
    const clock = manualClock()
    const cache = createCache({
      clock,
      policies: {
        api: {
          staleWhileRevalidate: '30s',
          staleIfError: '1h',
          staleIfErrorRetry: 0,
          softTimeout: '250ms',
          hardTimeout: 2_000,
          earlyRefresh: 0.5,
          lock: 'local',
          lockLease: '5s',
          negativeTtl: 0,
        },
        flags: { earlyRefresh: false, staleWhileRevalidate: Number.POSITIVE_INFINITY },
      },
    })
    expect(cache.policyNames).toEqual(['default', 'api', 'flags'])
    expect(await cache.wrap('k', async () => 'v', { policy: 'api', earlyRefresh: true })).toBe('v')
  })
})

describe('per-call options on a wrap hit', () => {
  // A hit resolves no policy (by design, for speed), so malformed per-call values are not
  // looked at there. But then the answer must not depend on the random draw of early refresh:
  // today a hit near expiry whose draw starts a refresh resolves the call's options and rejects,
  // while the same call with another draw is served the cached value.
  it('gives the same answer whichever way the early-refresh draw falls', async () => {
    const outcome = async (draw: number) => {
      const clock = manualClock()
      const cache = createCache({
        clock,
        random: () => draw,
        policies: { default: { ttl: '10s', earlyRefresh: true } },
      })
      await cache.wrap('k', async () => {
        clock.advance(100) // computeMs 100
        return 'v1'
      })
      clock.advance(10_000 - 50) // 50ms before expiry
      return cache
        .wrap('k', async () => 'v2', { softTimeout: 0 })
        .then(
          (value) => `served ${value}`,
          (error: CacheError) => `rejected ${error.code}`,
        )
    }
    // 0.99 reaches 1ms before expiry (no refresh); 0.5 reaches 69ms (refresh).
    expect(await outcome(0.5)).toBe(await outcome(0.99))
  })
})

describe('a rejected call loses no stored data', () => {
  it('a set with a malformed option leaves the old value in place', async () => {
    const cache = createCache()
    await cache.set('k', 'old')
    await expectInvalid(
      () => cache.set('k', 'new', { staleIfError: 'bogus' }),
      'set options.staleIfError',
    )
    await expectInvalid(() => cache.set('k', 'new', { softTimeout: 0 }), 'set options.softTimeout')
    expect(await cache.get('k')).toBe('old')
    expect(cache.stats().sets).toBe(1)
  })

  it('a wrap with a malformed option keeps the expired entry it would have replaced', async () => {
    const clock = manualClock()
    const cache = createCache({ clock, policies: { default: { ttl: '1s', staleIfError: '1m' } } })
    await cache.wrap('k', async () => 'v1')
    await cache.set('other', 'kept', { ttl: '1h' })
    clock.advance(1_500)
    let runs = 0
    const factory = async () => {
      runs++
      return 'v2'
    }
    await expectInvalid(
      () => cache.wrap('k', factory, { hardTimeout: 0 }),
      'wrap options.hardTimeout',
    )
    await expectInvalid(
      () => cache.wrap('k', factory, { earlyRefresh: -1 }),
      'wrap options.earlyRefresh',
    )
    await expectInvalid(
      () => cache.wrap('k', factory, { lock: 'distributed' }),
      'wrap options.lock',
    )
    expect(runs).toBe(0)
    // The entry is still there: a failing origin falls back to it.
    expect(
      await cache.wrap('k', async () => {
        throw new Error('down')
      }),
    ).toBe('v1')
    expect(await cache.get('other')).toBe('kept')
  })

  it('a bad ctx.setTtl fails that call only, keeping the previous entry as a fallback', async () => {
    const clock = manualClock()
    const cache = createCache({ clock, policies: { default: { ttl: '1s', staleIfError: '1m' } } })
    await cache.wrap('k', async () => 'v1')
    clock.advance(1_500)
    // Within staleIfError, the invalid call is handled like a failing factory.
    expect(
      await cache.wrap('k', (ctx) => {
        ctx.setTtl('bogus')
        return 'v2'
      }),
    ).toBe('v1')
    clock.advance(60_000)
    await expectInvalid(
      () =>
        cache.wrap('k', (ctx) => {
          ctx.setTtl('bogus')
          return 'v2'
        }),
      'ctx.setTtl ttl',
    )
  })
})
