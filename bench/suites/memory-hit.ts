import { LRUCache } from 'lru-cache'
import QuickLRU from 'quick-lru'
import { bentocache, cacheable, cacheManager, layercache, MAX_ENTRIES } from '../lib/anchors.js'
import {
  type Contender,
  countingFactory,
  makeKeys,
  type Subject,
  type Suite,
} from '../lib/suite.js'

// A small hot set, all pre-warmed: every timed call is a hit. 1,024 keys (a power of two, so
// picking the key is a mask, the same cheap step for every contender).
const KEY_COUNT = 1024
const MASK = KEY_COUNT - 1
const keys = makeKeys('user', KEY_COUNT)

const userOf = (i: number) => ({ id: i, name: `user ${i}`, roles: ['reader'] })
type User = ReturnType<typeof userOf>

/** Warms `KEY_COUNT` keys through `fill`, then checks afterwards that the timed calls all hit. */
async function hitSubject(
  fill: (key: string, user: User) => Promise<unknown> | unknown,
  makeOp: (factory: () => Promise<User>) => Subject['op'],
  close?: () => Promise<unknown> | unknown,
): Promise<Subject> {
  for (let i = 0; i < KEY_COUNT; i++) await fill(keys[i]!, userOf(i))
  // The factory of the timed calls must never run; it returns a wrong user if it does.
  const { factory, calls } = countingFactory(userOf(-1))
  const op = makeOp(factory)
  return {
    op,
    async check() {
      const sample = (await op(7)) as User | undefined
      if (calls() > 0) return `factory ran ${calls()} times: not all calls were hits`
      if (sample?.id !== 7) return `returned ${JSON.stringify(sample)} for ${keys[7]}`
      return undefined
    },
    close,
  }
}

const contenders: Contender[] = [
  {
    name: 'Map',
    setup() {
      const map = new Map<string, User>()
      return hitSubject(
        (key, user) => map.set(key, user),
        (factory) => async (n) => {
          const key = keys[n & MASK]!
          let value = map.get(key)
          if (value === undefined) {
            value = await factory()
            map.set(key, value)
          }
          return value
        },
      )
    },
  },
  {
    name: 'quick-lru',
    setup() {
      const lru = new QuickLRU<string, User>({ maxSize: MAX_ENTRIES })
      return hitSubject(
        (key, user) => lru.set(key, user),
        (factory) => async (n) => {
          const key = keys[n & MASK]!
          let value = lru.get(key)
          if (value === undefined) {
            value = await factory()
            lru.set(key, value)
          }
          return value
        },
      )
    },
  },
  {
    name: 'lru-cache',
    setup() {
      const lru = new LRUCache<string, User>({ max: MAX_ENTRIES })
      return hitSubject(
        (key, user) => lru.set(key, user),
        (factory) => async (n) => {
          const key = keys[n & MASK]!
          let value = lru.get(key)
          if (value === undefined) {
            value = await factory()
            lru.set(key, value)
          }
          return value
        },
      )
    },
  },
  {
    name: 'layercache wrap',
    setup() {
      const cache = layercache()
      return hitSubject(
        (key, user) => cache.wrap(key, () => user),
        (factory) => (n) => cache.wrap(keys[n & MASK]!, factory),
        () => cache.close(),
      )
    },
  },
  {
    name: 'layercache get',
    setup() {
      const cache = layercache()
      return hitSubject(
        (key, user) => cache.set(key, user),
        () => (n) => cache.get<User>(keys[n & MASK]!),
        () => cache.close(),
      )
    },
  },
  {
    name: "layercache wrap { policy: 'named' }",
    setup() {
      const cache = layercache({ named: { ttl: '10m' } })
      return hitSubject(
        (key, user) => cache.wrap(key, () => user, { policy: 'named' }),
        // An inline options object per call, as application code writes it.
        (factory) => (n) => cache.wrap(keys[n & MASK]!, factory, { policy: 'named' }),
        () => cache.close(),
      )
    },
  },
  {
    name: 'bentocache getOrSet',
    setup() {
      const bento = bentocache()
      return hitSubject(
        (key, user) => bento.getOrSet({ key, factory: () => user }),
        (factory) => (n) => bento.getOrSet({ key: keys[n & MASK]!, factory }),
        () => bento.disconnectAll(),
      )
    },
  },
  {
    name: 'bentocache getOrSet (serialize: false)',
    setup() {
      const bento = bentocache({ serialize: false })
      return hitSubject(
        (key, user) => bento.getOrSet({ key, factory: () => user }),
        (factory) => (n) => bento.getOrSet({ key: keys[n & MASK]!, factory }),
        () => bento.disconnectAll(),
      )
    },
  },
  {
    name: 'cache-manager wrap',
    setup() {
      const cache = cacheManager()
      return hitSubject(
        (key, user) => cache.wrap(key, () => user),
        (factory) => (n) => cache.wrap(keys[n & MASK]!, factory),
        () => cache.disconnect(),
      )
    },
  },
  {
    name: 'cacheable getOrSet',
    setup() {
      const cache = cacheable()
      return hitSubject(
        (key, user) => cache.getOrSet(key, async () => user),
        (factory) => (n) => cache.getOrSet(keys[n & MASK]!, factory),
        () => cache.disconnect(),
      )
    },
  },
  {
    name: 'cacheable getOrSet (useClone: false)',
    setup() {
      const cache = cacheable({ useClone: false })
      return hitSubject(
        (key, user) => cache.getOrSet(key, async () => user),
        (factory) => (n) => cache.getOrSet(keys[n & MASK]!, factory),
        () => cache.disconnect(),
      )
    },
  },
]

/** Awaited get-or-set hits on in-memory caches, against a plain Map. */
export const memoryHit: Suite = {
  name: 'memory-hit',
  scenarios: () => [
    {
      id: 'memory-hit',
      title: 'Awaited get-or-set hit on an in-memory cache (1,024 hot keys)',
      baseline: 'Map',
      options: { iterations: 1_000_000, rounds: 11, roundMs: 100 },
      contenders,
    },
  ],
}
