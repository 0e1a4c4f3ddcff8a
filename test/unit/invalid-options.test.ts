import { describe, expect, it } from 'vitest'
import { CacheError, createCache, type Layer, memoryLayer } from '../../src/index.js'
import { expectCacheError } from '../helpers/errors.js'

const bad = (options: unknown) => () => createCache(options as Parameters<typeof createCache>[0])

describe('E_INVALID_OPTION at creation, naming the option', () => {
  it.each([
    ['an unknown top-level option', { nmespace: 'x' }, 'createCache options.nmespace'],
    [
      'an unknown policy field',
      { policies: { dashboard: { tll: '5m' } } },
      'policies.dashboard.tll',
    ],
    ['a negative TTL', { policies: { default: { ttl: -1 } } }, 'policies.default.ttl'],
    ['an unparsable duration', { policies: { a: { ttl: '5 minutes' } } }, 'policies.a.ttl'],
    ['a NaN TTL', { policies: { a: { ttl: Number.NaN } } }, 'policies.a.ttl'],
    ['a duration of the wrong type', { policies: { a: { ttl: true } } }, 'policies.a.ttl'],
    ['an empty layer list', { layers: [] }, '`layers`'],
    ['layers that are not an array', { layers: memoryLayer() }, '`layers`'],
    [
      'a layer without get',
      { layers: [{ name: 'x', set() {}, delete() {}, clear() {} }] },
      'layers[0].get',
    ],
    [
      'a layer without a name',
      { layers: [{ get() {}, set() {}, delete() {}, clear() {} }] },
      'layers[0].name',
    ],
    [
      'a policy for a layer that does not exist',
      { policies: { a: { layers: { redis: { ttl: '1m' } } } } },
      'policies.a.layers.redis',
    ],
    [
      'an unknown per-layer field',
      { policies: { a: { layers: { memory: { max: 1 } } } } },
      'policies.a.layers.memory.max',
    ],
    [
      'a negative per-layer TTL',
      { policies: { a: { layers: { memory: { ttl: '-5s' } } } } },
      'policies.a.layers.memory.ttl',
    ],
    ['a jitter fraction above 1', { policies: { a: { jitter: 1.5 } } }, 'policies.a.jitter'],
    ['an unparsable jitter', { policies: { a: { jitter: 'lots' } } }, 'policies.a.jitter'],
    ['tags that are not an array', { policies: { a: { tags: 'user' } } }, 'policies.a.tags'],
    ['an empty tag', { policies: { a: { tags: ['ok', ''] } } }, 'policies.a.tags[1]'],
    ['a policy that is not an object', { policies: { a: 5 } }, 'policies.a'],
    ['policies that are not an object', { policies: [] }, '`policies`'],
    ['a namespace with a colon', { namespace: 'a:b' }, '`namespace`'],
    ['an empty namespace', { namespace: '' }, '`namespace`'],
    ['a clock without now', { clock: {} }, 'clock.now'],
    ['a random that is not a function', { random: 0.5 }, '`random`'],
    ['a maxKeyLength below 32', { maxKeyLength: 8 }, '`maxKeyLength`'],
  ])('rejects %s', async (_, options, text) => {
    await expectCacheError(bad(options), 'E_INVALID_OPTION', text)
  })

  it('rejects two layers with one name', async () => {
    await expectCacheError(
      bad({ layers: [memoryLayer(), memoryLayer()] }),
      'E_INVALID_OPTION',
      'layers[1].name',
    )
  })

  it('rejects a memory layer given to a second cache', async () => {
    const memory = memoryLayer()
    createCache({ layers: [memory] })
    await expectCacheError(
      () => createCache({ layers: [memory] }),
      'E_INVALID_OPTION',
      'already belongs to another cache',
    )
  })

  it.each([
    ['maxEntries 0', { maxEntries: 0 }, 'memoryLayer.maxEntries'],
    ['fractional maxEntries', { maxEntries: 1.5 }, 'memoryLayer.maxEntries'],
    ['unparsable maxBytes', { maxBytes: '50 megs' }, 'memoryLayer.maxBytes'],
    ['negative maxBytes', { maxBytes: -1 }, 'memoryLayer.maxBytes'],
    ['an unknown option', { maxSize: 5 }, 'memoryLayer options.maxSize'],
    ['a sizeOf that is not a function', { sizeOf: 5 }, 'memoryLayer.sizeOf'],
  ])('memoryLayer rejects %s', async (_, options, text) => {
    await expectCacheError(() => memoryLayer(options as never), 'E_INVALID_OPTION', text)
  })
})

describe('bad input at a call gets a clear error and loses nothing stored', () => {
  async function seeded() {
    const cache = createCache({ policies: { users: { ttl: '1m' } } })
    await cache.set('kept', { id: 1 })
    return cache
  }

  it.each([
    [
      'an unknown call option on set',
      (c) => c.set('k', 1, { tll: 5 } as never),
      'E_INVALID_OPTION',
      'set options.tll',
    ],
    [
      'an unknown policy on set',
      (c) => c.set('k', 1, { policy: 'nope' }),
      'E_INVALID_OPTION',
      'names no policy: "nope"',
    ],
    [
      'a negative ttl on set',
      (c) => c.set('k', 1, { ttl: -5 }),
      'E_INVALID_OPTION',
      'set options.ttl',
    ],
    [
      'an unknown policy on wrap',
      (c) => c.wrap('k', () => 1, { policy: 'nope' }),
      'E_INVALID_OPTION',
      'wrap options.policy',
    ],
    [
      'an unknown call option on wrap',
      (c) => c.wrap('kept', () => 1, { polcy: 'users' } as never),
      'E_INVALID_OPTION',
      'wrap options.polcy',
    ],
    [
      'an unparsable ttl on wrap',
      (c) => c.wrap('k', () => 1, { ttl: 'soon' }),
      'E_INVALID_OPTION',
      'wrap options.ttl',
    ],
    [
      'a factory that is not a function',
      (c) => c.wrap('k', 5 as never),
      'E_INVALID_OPTION',
      'wrap factory',
    ],
    ['an empty key', (c) => c.get(''), 'E_INVALID_KEY', 'non-empty string'],
    ['a number key', (c) => c.set(42 as never, 1), 'E_INVALID_KEY', 'got 42'],
    [
      'an undefined key in a batch',
      (c) => c.getMany(['a', undefined as never]),
      'E_INVALID_KEY',
      'got undefined',
    ],
    [
      'keys that are not an array',
      (c) => c.deleteMany('kept' as never),
      'E_INVALID_OPTION',
      'deleteMany keys',
    ],
  ] as [string, (c: Awaited<ReturnType<typeof seeded>>) => Promise<unknown>, string, string][])(
    'rejects %s',
    async (_, call, code, text) => {
      const cache = await seeded()
      await expectCacheError(() => call(cache), code, text)
      expect(await cache.get('kept')).toEqual({ id: 1 })
    },
  )

  it('rejects an unknown policy even when the key is a hit', async () => {
    const cache = await seeded()
    await expectCacheError(
      () => cache.wrap('kept', () => 2, { policy: 'nope' }),
      'E_INVALID_OPTION',
      'nope',
    )
  })

  it('rejects a bad batch as a whole without deleting any of its valid keys', async () => {
    const cache = await seeded()
    await expectCacheError(() => cache.deleteMany(['kept', '']), 'E_INVALID_KEY', 'non-empty')
    expect(await cache.get('kept')).toEqual({ id: 1 })
  })

  it('rejects calls after close with E_CLOSED', async () => {
    const cache = await seeded()
    await cache.close()
    await expectCacheError(() => cache.get('kept'), 'E_CLOSED', 'get() called after close()')
    await expectCacheError(() => cache.wrap('k', () => 1), 'E_CLOSED', 'wrap()')
    await expectCacheError(() => cache.clear(), 'E_CLOSED', 'clear()')
  })

  it('returns rejected promises, never throws synchronously', () => {
    const cache = createCache()
    const result = cache.get('')
    expect(result).toBeInstanceOf(Promise)
    return expect(result).rejects.toBeInstanceOf(CacheError)
  })
})

describe('a failing sizeOf', () => {
  it('is reported as a layer error and the write does not land in that layer', async () => {
    const memory = memoryLayer({ maxBytes: '1mb', sizeOf: () => Number.NaN })
    const cache = createCache({ layers: [memory as Layer] })
    const errors: string[] = []
    cache.on('error', (e) => errors.push((e.error as Error).message))
    await cache.set('k', 1)
    expect(errors[0]).toMatch('memoryLayer.sizeOf')
    expect(await cache.get('k')).toBeUndefined()
  })
})
