import { describe, expect, it } from 'vitest'
import { CacheError, createCache, memoryLayer } from '../../src/index.js'
import { manualClock } from '../helpers/clock.js'
import { deferred, MapLayer } from '../helpers/map-layer.js'

const DAY = 86_400_000

async function expectInvalid(call: () => Promise<unknown>, text: string) {
  const error = await call().catch((e: unknown) => e)
  expect(error).toBeInstanceOf(CacheError)
  expect((error as CacheError).code).toBe('E_INVALID_OPTION')
  expect((error as CacheError).message).toContain(text)
}

describe('invalidateTags', () => {
  it('makes entries carrying a tag miss, and leaves the others', async () => {
    const cache = createCache()
    await cache.set('a', 1, { tags: ['t'] })
    await cache.set('b', 2, { tags: ['u'] })
    await cache.set('c', 3)
    await cache.invalidateTags(['t'])
    expect(await cache.getMany(['a', 'b', 'c'])).toEqual([undefined, 2, 3])
    let runs = 0
    expect(await cache.wrap('a', async () => ++runs, { tags: ['t'] })).toBe(1)
    expect(await cache.wrap('a', async () => ++runs, { tags: ['t'] })).toBe(1)
    expect(cache.stats().invalidations).toBe(1)
  })

  it('invalidates one user across every policy with one call', async () => {
    const cache = createCache({
      policies: { dashboard: { ttl: '5m' }, analytics: { ttl: '1h' }, summary: { ttl: '1d' } },
    })
    for (const user of [42, 43]) {
      for (const policy of ['dashboard', 'analytics', 'summary']) {
        await cache.wrap(`${policy}-${user}`, async () => `${policy} of ${user}`, {
          policy,
          tags: [`user:${user}`],
        })
      }
    }
    await cache.invalidateTags(['user:42'])
    const keys = ['dashboard', 'analytics', 'summary'].flatMap((p) => [`${p}-42`, `${p}-43`])
    expect(await cache.getMany(keys)).toEqual([
      undefined,
      'dashboard of 43',
      undefined,
      'analytics of 43',
      undefined,
      'summary of 43',
    ])
  })

  it('applies tags of the policy, of default and of the call, and tags derived from the value', async () => {
    const cache = createCache({
      policies: { default: { tags: ['all'] }, users: { tags: ['users'] } },
    })
    await cache.wrap('u1', async () => ({ id: 1, team: 'red' }), {
      policy: 'users',
      tags: (user) => [`team:${user.team}`],
    })
    await cache.set('u2', { id: 2 }, { policy: 'users', tags: ['vip'] })
    await cache.invalidateTags(['team:red'])
    expect(await cache.get('u1')).toBeUndefined()
    expect(await cache.get('u2')).toEqual({ id: 2 })
    await cache.invalidateTags(['all'])
    expect(await cache.get('u2')).toBeUndefined()
  })

  it('moves a tag at O(1): no layer is touched, whatever the number of entries', async () => {
    const l2 = new MapLayer('l2')
    const cache = createCache({ layers: [memoryLayer({ maxEntries: 20_000 }), l2] })
    for (let i = 0; i < 5_000; i++) await cache.set(`k${i}`, i, { tags: ['many'] })
    const before = { ...l2.calls }
    await cache.invalidateTags(['many'])
    expect(l2.calls).toEqual(before)
    expect(await cache.get('k4999')).toBeUndefined()
  })
})

describe('no stale set', () => {
  it('returns, but does not store, a value whose tag was invalidated while its factory ran', async () => {
    const cache = createCache()
    const gate = deferred<string>()
    const running = cache.wrap('k', () => gate.promise, { tags: ['t'] })
    await new Promise((resolve) => setImmediate(resolve))
    await cache.invalidateTags(['t'])
    gate.resolve('computed from old data')
    expect(await running).toBe('computed from old data')
    expect(await cache.get('k')).toBeUndefined()
    expect(await cache.wrap('k', async () => 'recomputed', { tags: ['t'] })).toBe('recomputed')
    expect(await cache.get('k')).toBe('recomputed')
  })

  it('stores the value when an unrelated tag moved meanwhile', async () => {
    const cache = createCache()
    const gate = deferred<string>()
    const running = cache.wrap('k', () => gate.promise, { tags: ['t'] })
    await new Promise((resolve) => setImmediate(resolve))
    await cache.invalidateTags(['other'])
    gate.resolve('v')
    await running
    expect(await cache.get('k')).toBe('v')
  })
})

describe("mode: 'stale'", () => {
  it('serves the old value at once and refreshes it once in the background', async () => {
    const cache = createCache()
    const log: string[] = []
    cache.on('stale', (e) => log.push(`stale ${e.key}`))
    cache.on('refresh', (e) => log.push(`refresh ${e.key}`))
    let version = 1
    const gate = deferred<void>()
    let runs = 0
    const factory = async () => {
      runs++
      if (version > 1) await gate.promise
      return `v${version}`
    }
    expect(await cache.wrap('k', factory, { tags: ['t'] })).toBe('v1')
    version = 2
    await cache.invalidateTags(['t'], { mode: 'stale' })
    const served = await Promise.all(
      Array.from({ length: 10 }, () => cache.wrap('k', factory, { tags: ['t'] })),
    )
    expect(served.every((v) => v === 'v1')).toBe(true)
    expect(await cache.get('k')).toBe('v1') // get serves it stale too
    expect(runs).toBe(2) // the first run, and one refresh for all ten callers
    gate.resolve()
    await cache.close() // waits for the refresh
    expect(log[0]).toBe('stale k')
    expect(log.filter((l) => l.startsWith('refresh'))).toEqual(['refresh k'])
    expect(cache.stats().stale).toBe(2) // one shared flight for the ten wraps, and the get
  })

  it('serves the refreshed value once the refresh landed', async () => {
    const cache = createCache()
    let version = 1
    await cache.wrap('k', async () => `v${version}`, { tags: ['t'] })
    version = 2
    await cache.invalidateTags(['t'], { mode: 'stale' })
    expect(await cache.wrap('k', async () => `v${version}`, { tags: ['t'] })).toBe('v1')
    for (let i = 0; i < 20 && (await cache.get('k')) !== 'v2'; i++)
      await new Promise((r) => setImmediate(r))
    expect(await cache.get('k')).toBe('v2')
    expect(await cache.has('k')).toBe(true)
  })

  it('announces one refresh, however many stale reads arrive while it runs', async () => {
    const cache = createCache()
    await cache.set('k', 'old', { tags: ['t'] })
    await cache.invalidateTags(['t'], { mode: 'stale' })
    const gate = deferred<string>()
    let refreshes = 0
    cache.on('refresh', () => refreshes++)
    expect(await cache.wrap('k', () => gate.promise, { tags: ['t'] })).toBe('old')
    expect(await cache.wrap('k', () => gate.promise, { tags: ['t'] })).toBe('old')
    gate.resolve('new')
    await cache.close()
    expect(refreshes).toBe(1)
  })

  it("is overridden by a later 'expire': the entry is then not served at all", async () => {
    const cache = createCache()
    await cache.set('k', 'old', { tags: ['t'] })
    await cache.invalidateTags(['t'], { mode: 'stale' })
    expect(await cache.get('k')).toBe('old')
    expect(await cache.has('k')).toBe(false) // stale is not fresh
    await cache.invalidateTags(['t'])
    expect(await cache.get('k')).toBeUndefined()
  })
})

describe('invalidatePrefix', () => {
  it('tracks no prefixes unless asked: keys with separators carry no tags by default', async () => {
    const l2 = new MapLayer('l2')
    const cache = createCache({ layers: [memoryLayer(), l2] })
    await cache.set('analytics:student:456:report', 1)
    expect((await l2.get('analytics:student:456:report'))?.tags).toBeUndefined()
    const tracking = createCache({
      namespace: 'p',
      layers: [new MapLayer('l2', l2.store)],
      prefixes: true,
    })
    await tracking.set('analytics:student:456:report', 1)
    expect((await tracking.getMany(['analytics:student:456:report']))[0]).toBe(1)
    const stored = [...l2.store.entries()].find(([k]) => k.startsWith('p:'))?.[1].entry
    expect(stored?.tags).toEqual([
      '#p:analytics:',
      '#p:analytics:student:',
      '#p:analytics:student:456:',
    ])
  })

  it('invalidates every key under a prefix and nothing beside it', async () => {
    const cache = createCache({ prefixes: true })
    const keys = [
      'analytics:student:456:report',
      'analytics:student:456:grades:2024',
      'analytics:student:4567:report',
      'analytics:student:45:report',
      'analytics:student:456',
      'analytics:teacher:456:report',
    ]
    for (const key of keys) await cache.set(key, key)
    await cache.invalidatePrefix('analytics:student:456')
    expect(await cache.getMany(keys)).toEqual([undefined, undefined, ...keys.slice(2)])
    await cache.invalidatePrefix('analytics:')
    expect(await cache.getMany(keys)).toEqual(keys.map(() => undefined))
  })

  it('accepts a trailing separator, a custom separator, and refuses what it cannot track', async () => {
    const cache = createCache({ prefixes: { separator: '/', maxDepth: 2 } })
    await cache.set('a/b/c', 1)
    await cache.set('a/x/c', 2)
    await cache.invalidatePrefix('a/b/')
    expect(await cache.getMany(['a/b/c', 'a/x/c'])).toEqual([undefined, 2])
    await expectInvalid(() => cache.invalidatePrefix('a/b/c/d'), 'prefixes.maxDepth')
    await expectInvalid(() => cache.invalidatePrefix(''), 'invalidatePrefix prefix')
    for (const off of [createCache(), createCache({ prefixes: false })]) {
      await expectInvalid(() => off.invalidatePrefix('a'), 'prefixes: true')
    }
  })
})

describe('tag validation', () => {
  it.each([
    ['an empty tag', [''], 'invalidateTags tags[0]'],
    ['a tag that is too long', ['x'.repeat(257)], 'invalidateTags tags[0]'],
    ['a reserved tag', ['#p:users:'], 'reserved'],
    ['more than 64 tags', Array.from({ length: 65 }, (_, i) => `t${i}`), 'at most 64'],
    ['a string instead of a list', 'user:1', 'invalidateTags tags'],
  ])('invalidateTags refuses %s, losing nothing', async (_, tags, text) => {
    const cache = createCache()
    await cache.set('kept', 1, { tags: ['t'] })
    await expectInvalid(() => cache.invalidateTags(tags as string[]), text)
    expect(await cache.get('kept')).toBe(1)
  })

  it('counts the tags of the policy and of a tag function together against the limit', async () => {
    const policyTags = Array.from({ length: 10 }, (_, i) => `p${i}`)
    const cache = createCache({ policies: { many: { tags: policyTags } } })
    const valueTags = Array.from({ length: 60 }, (_, i) => `v${i}`)
    await expectInvalid(
      () => cache.wrap('k', async () => 1, { policy: 'many', tags: () => valueTags }),
      'at most 64',
    )
    expect(await cache.has('k')).toBe(false)
  })

  it('refuses bad tags on set, on wrap, from a tag function, and an unknown mode', async () => {
    const cache = createCache()
    await expectInvalid(() => cache.set('k', 1, { tags: [''] }), 'set options.tags[0]')
    await expectInvalid(
      () => cache.wrap('k', async () => 1, { tags: () => [42 as never] }),
      'wrap options.tags(value)[0]',
    )
    await expectInvalid(
      () => cache.invalidateTags(['t'], { mode: 'soon' as never }),
      'options.mode',
    )
    expect(() => createCache({ policies: { p: { tags: ['#p:x'] } } })).toThrow('policies.p.tags[0]')
  })
})

describe('tag state outlives the entries that depend on it', () => {
  it('keeps a 30-day entry invalidated for all of its life, through pruning', async () => {
    const clock = manualClock()
    const cache = createCache({ clock })
    await cache.set('long', 'old', { ttl: '30d', tags: ['t'] })
    await cache.invalidateTags(['t'])
    clock.advance(29 * DAY)
    // Enough moves of other tags to make the in-process store prune what it no longer needs.
    for (let i = 0; i < 10_001; i++) await cache.invalidateTags([`other:${i}`])
    expect(await cache.get('long')).toBeUndefined()
  })
})
