import { CacheError, describe } from './errors.js'
import { hashString } from './hash.js'

/** Keys longer than this many characters are stored under a hash by default. */
export const DEFAULT_MAX_KEY_LENGTH = 200

/** The prefix of hashed store keys. */
const HASH_PREFIX = '#h:'

/**
 * Turns a user key into the key handed to layers. Long keys are stored under a fixed-length
 * hash; the full key travels in the entry and is compared on read, so a collision is a miss.
 */
export function toStoreKey(key: unknown, maxKeyLength: number): string {
  if (typeof key !== 'string' || key.length === 0) {
    throw new CacheError(
      'E_INVALID_KEY',
      `layercache: a key must be a non-empty string, got ${describe(key)}`,
    )
  }
  return key.length > maxKeyLength ? HASH_PREFIX + hashString(key) : key
}
