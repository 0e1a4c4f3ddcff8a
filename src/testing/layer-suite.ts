import type { Entry } from '../core/entry.js'
import type { Layer } from '../layers/layer.js'
import { assert, assertEqual } from './assertions.js'

/** The test functions of your runner (vitest, jest, mocha, node:test all fit). */
export interface SuiteRunner {
  describe(name: string, body: () => void): void
  it(name: string, body: () => Promise<void>): void
}

/** Options of {@link runLayerSuite}. */
export interface LayerSuiteOptions extends SuiteRunner {
  /** Names the suite. */
  name: string
  /**
   * A new layer for one test. Layers made by successive calls must share one store when the
   * store is shared in production (Redis, SQL), so that namespace isolation is tested.
   */
  create(): Layer | Promise<Layer>
  /** Releases a layer after its test. Default: `layer.close()`. */
  destroy?(layer: Layer): Promise<void> | void
}

/**
 * The behaviour every layer must have, as a test suite for your runner. layercache runs it on
 * its memory, Redis and keyv layers; run it on yours.
 *
 * @example
 * import { describe, it } from 'vitest'
 * runLayerSuite({ name: 'my layer', create: () => myLayer(), describe, it })
 */
export function runLayerSuite(options: LayerSuiteOptions): void {
  const { describe, it } = options
  // Namespaces unique to this run, so parallel runs against one store never meet.
  const run = `s${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`
  let tests = 0
  let now = 1_000_000
  const clock = { now: () => now }

  /** A bound layer in a namespace of its own; destroyed after `body`. */
  async function withLayer(
    body: (layer: Layer, namespace: string) => Promise<void>,
    namespace?: string,
  ) {
    const ns = namespace ?? `${run}-${tests++}`
    const layer = await options.create()
    const reports: unknown[] = []
    layer.bind?.({ namespace: ns, clock, report: (_op, error) => reports.push(error) })
    try {
      await body(layer, ns)
    } finally {
      await (options.destroy ? options.destroy(layer) : layer.close?.())
    }
  }

  const entry = (value: unknown, extra: Partial<Entry> = {}): Entry => ({
    value,
    createdAt: now - 5,
    freshUntil: now + 60_000,
    staleUntil: now + 120_000,
    ...extra,
  })

  const get = async (layer: Layer, key: string) => (await layer.get(key))?.value
  const getMany = async (layer: Layer, keys: string[]) =>
    layer.getMany ? await layer.getMany(keys) : await Promise.all(keys.map((key) => layer.get(key)))

  describe(`layer suite: ${options.name}`, () => {
    it('answers undefined for a missing key', async () => {
      await withLayer(async (layer) => {
        assertEqual(await layer.get('missing'), undefined, 'get of a missing key')
      })
    })

    it('returns the stored envelope with every field', async () => {
      await withLayer(async (layer) => {
        const stored = entry(
          { a: 1 },
          { tags: ['t1', 't2'], computeMs: 12, key: 'full-key', policy: 'p' },
        )
        await layer.set('k', stored, 60_000)
        const back = await layer.get('k')
        assert(back, 'the entry comes back')
        for (const field of [
          'value',
          'createdAt',
          'freshUntil',
          'staleUntil',
          'tags',
          'computeMs',
          'key',
          'policy',
        ] as const) {
          assertEqual(back[field], stored[field], `field ${field}`)
        }
      })
    })

    it('keeps Date, Map, Set, BigInt, typed arrays, undefined and null', async () => {
      await withLayer(async (layer) => {
        const value = {
          date: new Date(Date.UTC(2024, 1, 29, 12, 0, 0, 123)),
          map: new Map<unknown, unknown>([
            ['a', 1],
            [2, { nested: true }],
          ]),
          plain: { a: 1, b: 'two' },
          set: new Set(['x', 'y']),
          big: 2n ** 100n + 1n,
          negative: -(2n ** 70n),
          bytes: new Uint8Array([0, 1, 255]),
          floats: new Float64Array([1.5, -0.25]),
          ints: new Int32Array([-1, 2 ** 31 - 1]),
          nothing: undefined,
          none: null,
          list: [1, 'two', undefined, null, { deep: [new Date(0)] }],
          text: 'unicode ✓ 日本 🚀',
          numbers: [0, -1, 1.5, Number.MAX_SAFE_INTEGER, Number.POSITIVE_INFINITY],
        }
        await layer.set('types', entry(value), 60_000)
        assertEqual(await get(layer, 'types'), value, 'round trip')
        for (const scalar of [undefined, null, 0, '', false, 'text', 42n]) {
          await layer.set('scalar', entry(scalar), 60_000)
          const back = await layer.get('scalar')
          assert(back !== undefined, `an entry holding ${String(scalar)} is found`)
          assertEqual(back.value, scalar, `scalar ${String(scalar)}`)
        }
      })
    })

    it('replaces a value on overwrite and removes it on delete', async () => {
      await withLayer(async (layer) => {
        await layer.set('k', entry('one'), 60_000)
        await layer.set('k', entry('two'), 60_000)
        assertEqual(await get(layer, 'k'), 'two', 'after overwrite')
        await layer.delete('k')
        assertEqual(await layer.get('k'), undefined, 'after delete')
        await layer.delete('never-there')
      })
    })

    it('reads and writes batches in order, with misses as undefined', async () => {
      await withLayer(async (layer) => {
        const items = ['a', 'b', 'c'].map((key) => ({
          key,
          entry: entry(key.toUpperCase()),
          ttlMs: 60_000,
        }))
        if (layer.setMany) await layer.setMany(items)
        else for (const item of items) await layer.set(item.key, item.entry, item.ttlMs)
        const found = await getMany(layer, ['c', 'missing', 'a', 'b'])
        assertEqual(
          found.map((e) => e?.value),
          ['C', undefined, 'A', 'B'],
          'getMany',
        )
        if (layer.deleteMany) await layer.deleteMany(['a', 'c'])
        else for (const key of ['a', 'c']) await layer.delete(key)
        assertEqual(
          (await getMany(layer, ['a', 'b', 'c'])).map((e) => e?.value),
          [undefined, 'B', undefined],
          'after deleteMany',
        )
      })
    })

    it('expires an entry after its TTL', async () => {
      await withLayer(async (layer) => {
        await layer.set('short', entry('v'), 5)
        await layer.set('long', entry('v'), 60_000)
        now += 10
        // Stores that expire by their own time (Redis PX) need the real time to pass too.
        let gone = false
        for (let attempt = 0; attempt < 40 && !gone; attempt++) {
          await new Promise((resolve) => setTimeout(resolve, 5))
          gone = (await layer.get('short')) === undefined
        }
        assert(gone, 'an entry past its TTL is gone')
        assertEqual(await get(layer, 'long'), 'v', 'an entry within its TTL')
      })
    })

    it('treats keys as opaque strings (no patterns, any characters)', async () => {
      await withLayer(async (layer) => {
        // 200 characters is the longest key a cache hands its layers (it hashes longer ones).
        const keys = [
          'user:*',
          'a?c',
          '[x]',
          'sp ace',
          'emoji 🚀',
          'back\\slash',
          'k'.repeat(200),
          'user:1',
        ]
        for (const [i, key] of keys.entries()) await layer.set(key, entry(i), 60_000)
        for (const [i, key] of keys.entries())
          assertEqual(await get(layer, key), i, `key ${key.slice(0, 20)}`)
        await layer.delete('user:*')
        assertEqual(
          await get(layer, 'user:1'),
          keys.length - 1,
          'deleting "user:*" leaves "user:1"',
        )
      })
    })

    it('clears its own namespace and nothing else', async () => {
      const ns = `${run}-iso-${tests++}`
      await withLayer(async (a) => {
        await withLayer(async (b) => {
          await a.set('shared-key', entry('a'), 60_000)
          await b.set('shared-key', entry('b'), 60_000)
          assertEqual(await get(a, 'shared-key'), 'a', 'namespace a reads its own value')
          await a.clear()
          assertEqual(await a.get('shared-key'), undefined, 'cleared in a')
          assertEqual(await get(b, 'shared-key'), 'b', 'untouched in b')
        }, `${ns}b`)
      }, `${ns}a`)
    })

    it('stays consistent under concurrent writes and reads', async () => {
      await withLayer(async (layer) => {
        await Promise.all(
          Array.from({ length: 100 }, (_, i) => layer.set(`c${i}`, entry(i), 60_000)),
        )
        const values = await Promise.all(Array.from({ length: 100 }, (_, i) => get(layer, `c${i}`)))
        assertEqual(
          values,
          Array.from({ length: 100 }, (_, i) => i),
          'concurrent round trips',
        )
      })
    })

    it('holds a large value', async () => {
      await withLayer(async (layer) => {
        const big = 'x'.repeat(1_000_000)
        await layer.set('big', entry({ big }), 60_000)
        assertEqual(await get(layer, 'big'), { big }, 'a 1 MB value')
      })
    })
  })
}
