import { LRUCache } from 'lru-cache'
import { bentocache, cacheable, cacheManager, layercache, MAX_ENTRIES } from '../lib/anchors.js'
import { type MeasureOptions, totalCalls } from '../lib/measure.js'
import {
  type Contender,
  countingFactory,
  makeKeys,
  type Scenario,
  type Subject,
} from '../lib/suite.js'

interface Item {
  id: number
  name: string
}

// Up to 50,000 fresh keys per round against a 10,000-entry bound: after warm-up every cache
// is full, so each timed call is a miss, a factory call, a write and (amortised) an eviction.
const OPTIONS: MeasureOptions = { iterations: 50_000, rounds: 11, roundMs: 100 }

/** Wraps a get-or-set call on fresh keys; the check asserts every call ran the factory. */
function fillSubject(
  keys: readonly string[],
  makeOp: (key: (n: number) => string, factory: () => Promise<Item>) => Subject['op'],
  close?: () => Promise<unknown> | unknown,
): Subject {
  const { factory, calls } = countingFactory<Item>({ id: 1, name: 'fresh' })
  let made = 0
  const op = makeOp((n) => {
    made = n + 1
    return keys[n]!
  }, factory)
  return {
    op,
    check: () => (calls() === made ? undefined : `factory ran ${calls()} times for ${made} misses`),
    close,
  }
}

function contenders(keys: readonly string[]): Contender[] {
  return [
    {
      name: 'Map',
      setup() {
        const map = new Map<string, Item>()
        return fillSubject(keys, (key, factory) => async (n) => {
          const k = key(n)
          let value = map.get(k)
          if (value === undefined) {
            value = await factory()
            // Bounded the crude way: a Map has no cheap "drop the oldest", so drop everything.
            if (map.size >= MAX_ENTRIES) map.clear()
            map.set(k, value)
          }
          return value
        })
      },
    },
    {
      name: 'lru-cache',
      setup() {
        const lru = new LRUCache<string, Item>({ max: MAX_ENTRIES })
        return fillSubject(keys, (key, factory) => async (n) => {
          const k = key(n)
          let value = lru.get(k)
          if (value === undefined) {
            value = await factory()
            lru.set(k, value)
          }
          return value
        })
      },
    },
    {
      name: 'layercache wrap',
      setup() {
        const cache = layercache()
        return fillSubject(
          keys,
          (key, factory) => (n) => cache.wrap(key(n), factory),
          () => cache.close(),
        )
      },
    },
    {
      name: 'bentocache getOrSet',
      setup() {
        const bento = bentocache()
        return fillSubject(
          keys,
          (key, factory) => (n) => bento.getOrSet({ key: key(n), factory }),
          () => bento.disconnectAll(),
        )
      },
    },
    {
      name: 'cache-manager wrap',
      setup() {
        const cache = cacheManager()
        return fillSubject(
          keys,
          (key, factory) => (n) => cache.wrap(key(n), factory),
          () => cache.disconnect(),
        )
      },
    },
    {
      name: 'cacheable getOrSet',
      setup() {
        const cache = cacheable()
        return fillSubject(
          keys,
          (key, factory) => (n) => cache.getOrSet(key(n), factory),
          () => cache.disconnect(),
        )
      },
    },
  ]
}

/** Get-or-set on a cold key each call, with an `async () => value` factory. */
export function missThenFill(): Scenario {
  // Built when the suite lists its scenarios, not at import: 600,000 keys take tens of MB.
  const keys = makeKeys('fill', totalCalls(OPTIONS))
  return {
    id: 'memory-fill',
    title: 'Miss then fill: get-or-set on a fresh key, async () => value factory',
    baseline: 'Map',
    options: OPTIONS,
    contenders: contenders(keys),
  }
}
