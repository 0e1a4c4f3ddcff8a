import {
  bentocacheRedis,
  cacheableRedis,
  cacheManagerRedis,
  fillAll,
  layercacheRedis,
  type Product,
  productOf,
  rawRedis,
} from '../lib/redis.js'
import {
  type Contender,
  countingFactory,
  makeKeys,
  type Scenario,
  type Subject,
} from '../lib/suite.js'

// 1,024 pre-warmed keys per contender (each under its own prefix), read cycling: every call
// is a hit in Redis, and no contender has a memory layer, so every call is a round trip.
const KEY_COUNT = 1024
const MASK = KEY_COUNT - 1

/** Warms the keys through `fill`, then checks afterwards that the timed calls all hit. */
async function hitSubject(
  prefix: string,
  fill: (key: string, product: Product) => Promise<unknown>,
  makeOp: (keys: readonly string[], factory: () => Promise<Product>) => Subject['op'],
  close: () => Promise<unknown> | unknown,
): Promise<Subject> {
  const keys = makeKeys(`${prefix}:product`, KEY_COUNT)
  await fillAll(keys, (key, i) => fill(key, productOf(i)))
  // The factory of the timed calls must never run; it returns a wrong product if it does.
  const { factory, calls } = countingFactory(productOf(-1))
  const op = makeOp(keys, factory)
  return {
    op,
    async check() {
      const sample = (await op(7)) as Product | undefined
      if (calls() > 0) return `factory ran ${calls()} times: not all calls were hits`
      if (sample?.id !== 7) return `returned ${JSON.stringify(sample)} for ${keys[7]}`
      return undefined
    },
    close,
  }
}

const contenders: Contender[] = [
  {
    name: 'raw GET + decode',
    async setup() {
      const raw = await rawRedis()
      return hitSubject(
        'raw',
        (key, product) => raw.set(key, product),
        (keys) => (n) => raw.get(keys[n & MASK]!),
        () => raw.close(),
      )
    },
  },
  {
    name: 'layercache get',
    async setup() {
      const { cache } = await layercacheRedis('hitget')
      return hitSubject(
        'lc',
        (key, product) => cache.set(key, product),
        (keys) => (n) => cache.get(keys[n & MASK]!),
        () => cache.close(),
      )
    },
  },
  {
    name: 'layercache wrap',
    async setup() {
      const { cache } = await layercacheRedis('hitwrap')
      return hitSubject(
        'lc',
        (key, product) => cache.set(key, product),
        (keys, factory) => (n) => cache.wrap(keys[n & MASK]!, factory),
        () => cache.close(),
      )
    },
  },
  {
    name: 'bentocache getOrSet (L2 only)',
    async setup() {
      const bento = await bentocacheRedis()
      return hitSubject(
        'bento',
        (key, product) => bento.set({ key, value: product }),
        (keys, factory) => (n) => bento.getOrSet({ key: keys[n & MASK]!, factory }),
        () => bento.disconnectAll(),
      )
    },
  },
  {
    name: 'cache-manager wrap',
    async setup() {
      const { cache } = await cacheManagerRedis()
      return hitSubject(
        'cm',
        (key, product) => cache.set(key, product),
        (keys, factory) => (n) => cache.wrap(keys[n & MASK]!, factory),
        () => cache.disconnect(),
      )
    },
  },
  {
    name: 'cacheable getOrSet',
    async setup() {
      const { cache } = await cacheableRedis()
      return hitSubject(
        'cacheable',
        (key, product) => cache.set(key, product),
        (keys, factory) => (n) => cache.getOrSet(keys[n & MASK]!, factory),
        () => cache.disconnect(),
      )
    },
  },
]

/** Awaited reads that hit Redis, against a raw GET + decode. */
export function redisHit(): Scenario {
  return {
    id: 'redis-hit',
    title: 'Awaited L2 hit: Redis-only caches, 1,024 pre-warmed keys, a 20-field value',
    baseline: 'raw GET + decode',
    // 21 rounds: a hit is a loopback round trip whose rounds vary 2x here; the median of 11
    // round-by-round ratios moved by +-0.1x between runs (docs/benchmarks.md).
    options: { iterations: 100_000, rounds: 21, roundMs: 100 },
    contenders,
    interleave: true,
    showCpu: true,
  }
}
