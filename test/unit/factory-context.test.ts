import { describe, expect, it } from 'vitest'
import {
  CacheError,
  createCache,
  type FactoryContext,
  type PolicyOptions,
} from '../../src/index.js'
import { settle } from '../helpers/async.js'
import { manualClock } from '../helpers/clock.js'
import { deferred } from '../helpers/map-layer.js'

function clockedCache(policy: PolicyOptions = {}) {
  const clock = manualClock()
  const cache = createCache({ clock, policies: { default: { ttl: '1s', ...policy } } })
  return { clock, cache }
}

/** What a factory saw of its context. */
interface Seen {
  key: string
  stale: unknown
  hasStale: boolean
}
const seen = (ctx: FactoryContext<unknown>): Seen => ({
  key: ctx.key,
  stale: ctx.stale,
  hasStale: ctx.hasStale,
})

describe('factory context', () => {
  it('gives the key, and no stale value on a cold miss', async () => {
    const { cache } = clockedCache()
    let ctxSeen: Seen | undefined
    expect(
      await cache.wrap('user:1', (ctx) => {
        ctxSeen = seen(ctx)
        return `value of ${ctx.key}`
      }),
    ).toBe('value of user:1')
    expect(ctxSeen).toEqual({ key: 'user:1', stale: undefined, hasStale: false })
  })

  it('gives the replaced value to a refresh within staleWhileRevalidate', async () => {
    const { clock, cache } = clockedCache({ staleWhileRevalidate: '10s' })
    await cache.wrap('k', async () => ({ etag: 'e1' }))
    clock.advance(1_500)
    let ctxSeen: Seen | undefined
    const gate = deferred<{ etag: string }>()
    await cache.wrap('k', (ctx) => {
      ctxSeen = seen(ctx)
      return gate.promise
    })
    expect(ctxSeen).toEqual({ key: 'k', stale: { etag: 'e1' }, hasStale: true })
    gate.resolve({ etag: 'e2' })
    await settle()
  })

  it('gives the replaced value to a foreground run within staleIfError', async () => {
    const { clock, cache } = clockedCache({ staleIfError: '10s' })
    await cache.wrap('k', async () => 'old')
    clock.advance(1_500)
    let ctxSeen: Seen | undefined
    expect(
      await cache.wrap('k', (ctx) => {
        ctxSeen = seen(ctx)
        return `${ctx.stale}+new`
      }),
    ).toBe('old+new')
    expect(ctxSeen).toEqual({ key: 'k', stale: 'old', hasStale: true })
  })

  it('reports hasStale for a replaced undefined value', async () => {
    const { clock, cache } = clockedCache({ staleIfError: '10s', negativeTtl: '1s' })
    await cache.wrap('k', async () => undefined)
    clock.advance(1_500)
    let ctxSeen: Seen | undefined
    await cache.wrap('k', (ctx) => {
      ctxSeen = seen(ctx)
      return 'now found'
    })
    expect(ctxSeen).toEqual({ key: 'k', stale: undefined, hasStale: true })
  })

  it('gives no stale value once the entry is beyond every window', async () => {
    const { clock, cache } = clockedCache({ staleIfError: '10s' })
    await cache.wrap('k', async () => 'old')
    clock.advance(11_000)
    let ctxSeen: Seen | undefined
    await cache.wrap('k', (ctx) => {
      ctxSeen = seen(ctx)
      return 'new'
    })
    expect(ctxSeen).toEqual({ key: 'k', stale: undefined, hasStale: false })
  })

  it('ctx.setTtl replaces the policy TTL', async () => {
    const { clock, cache } = clockedCache()
    let runs = 0
    const factory = (ctx: FactoryContext<string>) => {
      runs++
      ctx.setTtl('10s')
      return `v${runs}`
    }
    expect(await cache.wrap('k', factory)).toBe('v1')
    clock.advance(9_999) // far past the policy's 1s
    expect(await cache.get('k')).toBe('v1')
    expect(await cache.wrap('k', factory)).toBe('v1')
    clock.advance(1)
    expect(await cache.get('k')).toBeUndefined()
    expect(await cache.wrap('k', factory)).toBe('v2')
    expect(runs).toBe(2)
  })

  it('ctx.setTtl can shorten the TTL', async () => {
    const { clock, cache } = clockedCache({ ttl: '1h' })
    await cache.wrap('k', (ctx) => {
      ctx.setTtl(500)
      return 'short'
    })
    clock.advance(499)
    expect(await cache.has('k')).toBe(true)
    clock.advance(1)
    expect(await cache.has('k')).toBe(false)
  })

  it('ctx.setTtl(0) returns the value without caching it', async () => {
    const { cache } = clockedCache()
    const sets: string[] = []
    cache.on('set', (e) => sets.push(e.key))
    let runs = 0
    const factory = (ctx: FactoryContext<string>) => {
      runs++
      ctx.setTtl(0)
      return `v${runs}`
    }
    expect(await cache.wrap('k', factory)).toBe('v1')
    expect(await cache.has('k')).toBe(false)
    expect(await cache.wrap('k', factory)).toBe('v2')
    expect(runs).toBe(2)
    expect(sets).toEqual([])
    expect(cache.stats().sets).toBe(0)
  })

  it('ctx.skip() returns the value without caching it', async () => {
    const { cache } = clockedCache()
    let runs = 0
    const factory = (ctx: FactoryContext<string>) => {
      runs++
      if (runs === 1) ctx.skip()
      return `v${runs}`
    }
    expect(await cache.wrap('k', factory)).toBe('v1')
    expect(await cache.get('k')).toBeUndefined()
    expect(await cache.wrap('k', factory)).toBe('v2')
    expect(await cache.wrap('k', factory)).toBe('v2') // not skipped: cached
    expect(runs).toBe(2)
  })

  it('ctx.skip() shares the value with concurrent callers but keeps the old entry', async () => {
    const { clock, cache } = clockedCache({ staleIfError: '1m' })
    await cache.wrap('k', async () => 'good')
    clock.advance(1_500)
    const values = await Promise.all(
      [0, 1, 2].map(() =>
        cache.wrap('k', (ctx) => {
          ctx.skip() // e.g. a partial answer from a degraded origin
          return 'partial'
        }),
      ),
    )
    expect(values).toEqual(['partial', 'partial', 'partial'])
    // The old entry is still there as a fallback.
    expect(
      await cache.wrap('k', async () => {
        throw new Error('down')
      }),
    ).toBe('good')
  })

  it('ctx.setTags adds tags that invalidateTags then invalidates', async () => {
    const { cache } = clockedCache({ ttl: '1h' })
    let runs = 0
    const factory = (ctx: FactoryContext<{ team: string }>) => {
      runs++
      ctx.setTags([`team:red`])
      ctx.setTags(['extra'])
      return { team: 'red' }
    }
    await cache.wrap('k', factory, { tags: ['call-tag'] })
    await cache.wrap('other', async () => 'untouched')
    expect(await cache.wrap('k', factory, { tags: ['call-tag'] })).toEqual({ team: 'red' })
    expect(runs).toBe(1)
    await cache.invalidateTags(['team:red'])
    expect(await cache.get('k')).toBeUndefined()
    expect(await cache.get('other')).toBe('untouched')
    await cache.wrap('k', factory, { tags: ['call-tag'] })
    expect(runs).toBe(2)
    // Every tag the entry carries reaches it: the second setTags and the call's.
    await cache.invalidateTags(['extra'])
    expect(await cache.get('k')).toBeUndefined()
    await cache.wrap('k', factory, { tags: ['call-tag'] })
    await cache.invalidateTags(['call-tag'])
    expect(await cache.get('k')).toBeUndefined()
  })

  it('ctx.setTags rejects malformed tags with E_INVALID_OPTION and caches nothing', async () => {
    const { cache } = clockedCache()
    const error = await cache
      .wrap('k', (ctx) => {
        ctx.setTags('not-an-array' as unknown as string[])
        return 'v'
      })
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(CacheError)
    expect((error as CacheError).code).toBe('E_INVALID_OPTION')
    expect((error as CacheError).message).toContain('ctx.setTags')
    expect(await cache.has('k')).toBe(false)
  })

  it('ctx.setTtl with a malformed duration rejects E_INVALID_OPTION', async () => {
    const { cache } = clockedCache()
    for (const bad of ['bogus', -1, Number.NaN]) {
      const error = await cache
        .wrap('k', (ctx) => {
          ctx.setTtl(bad)
          return 'v'
        })
        .catch((e: unknown) => e)
      expect(error).toBeInstanceOf(CacheError)
      expect((error as CacheError).code).toBe('E_INVALID_OPTION')
      expect((error as CacheError).message).toContain('ctx.setTtl')
    }
    expect(await cache.has('k')).toBe(false)
    expect(cache.stats().factoryErrors).toBe(3)
  })
})

describe('negative caching', () => {
  it('does not cache undefined by default: the factory runs each time', async () => {
    const { cache } = clockedCache()
    let runs = 0
    const notFound = async () => {
      runs++
      return undefined
    }
    for (let i = 0; i < 3; i++) expect(await cache.wrap('k', notFound)).toBeUndefined()
    expect(runs).toBe(3)
    expect(await cache.has('k')).toBe(false)
    expect(cache.stats().sets).toBe(0)
  })

  it('caches undefined for negativeTtl, then runs the factory again', async () => {
    const { clock, cache } = clockedCache({ ttl: '5m', negativeTtl: '30s' })
    let runs = 0
    const notFound = async () => {
      runs++
      return undefined
    }
    expect(await cache.wrap('k', notFound)).toBeUndefined()
    expect(await cache.has('k')).toBe(true)
    expect(await cache.wrap('k', notFound)).toBeUndefined()
    expect(runs).toBe(1)
    clock.advance(29_999)
    expect(await cache.has('k')).toBe(true)
    expect(await cache.wrap('k', notFound)).toBeUndefined()
    expect(runs).toBe(1)
    clock.advance(1) // 30s: the negative entry expired (long before the 5m TTL)
    expect(await cache.has('k')).toBe(false)
    expect(await cache.wrap('k', notFound)).toBeUndefined()
    expect(runs).toBe(2)
  })

  it('leaves defined values on the policy TTL', async () => {
    const { clock, cache } = clockedCache({ ttl: '5m', negativeTtl: '30s' })
    await cache.wrap('k', async () => 'found')
    clock.advance(60_000)
    expect(await cache.get('k')).toBe('found')
  })

  it('applies a per-call negativeTtl', async () => {
    const { clock, cache } = clockedCache()
    let runs = 0
    const notFound = async () => {
      runs++
      return undefined
    }
    await cache.wrap('k', notFound, { negativeTtl: '10s' })
    await cache.wrap('k', notFound, { negativeTtl: '10s' })
    expect(runs).toBe(1)
    clock.advance(10_000)
    await cache.wrap('k', notFound, { negativeTtl: '10s' })
    expect(runs).toBe(2)
  })

  it('lets ctx.setTtl cache undefined without negativeTtl, and override negativeTtl', async () => {
    const { clock, cache } = clockedCache({ ttl: '5m' })
    let runs = 0
    const notFound = (ctx: FactoryContext<undefined>) => {
      runs++
      ctx.setTtl('1m')
      return undefined
    }
    await cache.wrap('k', notFound)
    expect(await cache.has('k')).toBe(true)
    clock.advance(59_999)
    await cache.wrap('k', notFound)
    expect(runs).toBe(1)
    clock.advance(1)
    expect(await cache.has('k')).toBe(false)
    const negative = clockedCache({ negativeTtl: '30s' })
    await negative.cache.wrap('k', (ctx) => {
      ctx.setTtl(0)
      return undefined
    })
    expect(await negative.cache.has('k')).toBe(false)
  })
})
