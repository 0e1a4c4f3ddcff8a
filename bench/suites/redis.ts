import type { Suite } from '../lib/suite.js'
import { redisGetMany } from './redis-batch.js'
import { redisHit } from './redis-hit.js'
import { redisSets } from './redis-set.js'

/** Redis-only caches against a private redis-server: L2 hits, batch reads, sets. */
export const redis: Suite = {
  name: 'redis',
  scenarios: () => [redisHit(), redisGetMany(), ...redisSets()],
}
