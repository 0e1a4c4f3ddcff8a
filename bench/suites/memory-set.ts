import { LRUCache } from 'lru-cache'
import { bentocache, cacheable, cacheManager, layercache, MAX_ENTRIES } from '../lib/anchors.js'
import { type Contender, makeKeys, type Suite } from '../lib/suite.js'
import { missThenFill } from './miss-fill.js'

// Sets cycle over 4,096 keys (well under every entry bound), so memory stays flat and every
// timed set replaces an existing entry, as a refresh in an application does.
const KEY_COUNT = 4096
const MASK = KEY_COUNT - 1
const keys = makeKeys('item', KEY_COUNT)

interface Item {
  id: number
  name: string
}

// A fresh small object per call: the allocation is part of every contender's cost alike.
const itemOf = (n: number): Item => ({ id: n, name: 'item' })

/** Fails the check unless `read` finds the last value written under `keys[0]`. */
async function checkStored(read: (key: string) => Promise<unknown> | unknown) {
  const value = (await read(keys[0]!)) as Item | undefined
  return value?.name === 'item' ? undefined : `read back ${JSON.stringify(value)} after set`
}

const contenders: Contender[] = [
  {
    name: 'Map',
    setup() {
      const map = new Map<string, Item>()
      return {
        op: async (n) => {
          map.set(keys[n & MASK]!, itemOf(n))
        },
        check: () => checkStored((key) => map.get(key)),
      }
    },
  },
  {
    name: 'lru-cache',
    setup() {
      const lru = new LRUCache<string, Item>({ max: MAX_ENTRIES })
      return {
        op: async (n) => {
          lru.set(keys[n & MASK]!, itemOf(n))
        },
        check: () => checkStored((key) => lru.get(key)),
      }
    },
  },
  {
    name: 'layercache set',
    setup() {
      const cache = layercache()
      return {
        op: (n) => cache.set(keys[n & MASK]!, itemOf(n)),
        check: () => checkStored((key) => cache.get(key)),
        close: () => cache.close(),
      }
    },
  },
  {
    name: 'bentocache set',
    setup() {
      const bento = bentocache()
      return {
        op: (n) => bento.set({ key: keys[n & MASK]!, value: itemOf(n) }),
        check: () => checkStored((key) => bento.get({ key })),
        close: () => bento.disconnectAll(),
      }
    },
  },
  {
    name: 'cache-manager set',
    setup() {
      const cache = cacheManager()
      return {
        op: (n) => cache.set(keys[n & MASK]!, itemOf(n)),
        check: () => checkStored((key) => cache.get(key)),
        close: () => cache.disconnect(),
      }
    },
  },
  {
    name: 'cacheable set',
    setup() {
      const cache = cacheable()
      return {
        op: (n) => cache.set(keys[n & MASK]!, itemOf(n)),
        check: () => checkStored((key) => cache.get(key)),
        close: () => cache.disconnect(),
      }
    },
  },
]

/** Awaited writes: `set` over a bounded key space, and get-or-set misses that fill the cache. */
export const memorySet: Suite = {
  name: 'memory-set',
  scenarios: () => [
    {
      id: 'memory-set',
      title: 'Awaited set of a fresh small object (4,096 keys, cycling)',
      baseline: 'Map',
      options: { iterations: 1_000_000, rounds: 11, roundMs: 100 },
      contenders,
    },
    missThenFill(),
  ],
}
