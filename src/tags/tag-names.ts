import { describe, invalidOption } from '../core/errors.js'

/** Tag names are at most this long. */
export const MAX_TAG_LENGTH = 256
/** An entry carries at most this many tags (its own; prefix tags are counted apart). */
export const MAX_TAGS_PER_ENTRY = 64
/** Prefix tags are kept apart from user tags by this mark, which user tags may not start with. */
export const PREFIX_MARK = '#p:'

/** How keys are split into prefixes for `invalidatePrefix` (or `false`: no prefix tracking). */
export interface PrefixOptions {
  /** Separates the segments of a key. Default ':'. */
  separator?: string
  /** Prefixes tracked per key, from the first segment down. Default 8. */
  maxDepth?: number
}

/** Validates a list of tags given to a call or a policy; `path` names it in errors. */
export function checkTags(tags: unknown, path: string): readonly string[] {
  if (!Array.isArray(tags))
    throw invalidOption(path, `must be an array of tag names, got ${describe(tags)}`)
  if (tags.length > MAX_TAGS_PER_ENTRY) {
    throw invalidOption(
      path,
      `has ${tags.length} tags; an entry carries at most ${MAX_TAGS_PER_ENTRY}`,
    )
  }
  for (let i = 0; i < tags.length; i++) {
    const tag = tags[i]
    if (typeof tag !== 'string' || tag.length === 0 || tag.length > MAX_TAG_LENGTH) {
      throw invalidOption(
        `${path}[${i}]`,
        `must be a string of 1 to ${MAX_TAG_LENGTH} characters, got ${describe(tag)}`,
      )
    }
    if (tag.startsWith(PREFIX_MARK)) {
      throw invalidOption(
        `${path}[${i}]`,
        `may not start with "${PREFIX_MARK}" (reserved for key prefixes)`,
      )
    }
  }
  return tags as string[]
}

/** The prefixes of a key when prefixes are off. */
const NO_PREFIXES: readonly string[] = Object.freeze([])

/**
 * Splits keys into the prefixes `invalidatePrefix` can target: `'analytics:student:456:x'`
 * carries `analytics:`, `analytics:student:` and `analytics:student:456:`. Each is a tag like
 * any other, so invalidating a prefix costs what invalidating a tag costs: O(1), no scan.
 */
export class Prefixes {
  readonly separator: string
  readonly maxDepth: number

  constructor(options: PrefixOptions | boolean | undefined) {
    if (options === undefined || options === false) {
      this.separator = ''
      this.maxDepth = 0
      return
    }
    const { separator = ':', maxDepth = 8 } = options === true ? {} : options
    if (typeof separator !== 'string' || separator.length === 0) {
      throw invalidOption(
        'prefixes.separator',
        `must be a non-empty string, got ${describe(separator)}`,
      )
    }
    if (!Number.isSafeInteger(maxDepth) || maxDepth < 1 || maxDepth > 32) {
      throw invalidOption(
        'prefixes.maxDepth',
        `must be an integer from 1 to 32, got ${describe(maxDepth)}`,
      )
    }
    this.separator = separator
    this.maxDepth = maxDepth
  }

  /** The prefix tags of `key` (none when prefixes are off or the key has no separator). */
  of(key: string): readonly string[] {
    if (this.maxDepth === 0) return NO_PREFIXES // prefixes off (the default): nothing to allocate
    const found: string[] = []
    let at = key.indexOf(this.separator)
    while (at !== -1 && found.length < this.maxDepth) {
      const end = at + this.separator.length
      if (end < key.length) found.push(PREFIX_MARK + key.slice(0, end))
      at = key.indexOf(this.separator, end)
    }
    return found
  }

  /** The tag that `invalidatePrefix(prefix)` moves; validates the prefix. */
  tagFor(prefix: unknown): string {
    if (this.maxDepth === 0) {
      throw invalidOption(
        'prefixes',
        'is not set for this cache, so it tracks no key prefixes: create it with `prefixes: true` (or { separator, maxDepth }) to use invalidatePrefix()',
      )
    }
    if (typeof prefix !== 'string' || prefix.length === 0) {
      throw invalidOption(
        'invalidatePrefix prefix',
        `must be a non-empty string, got ${describe(prefix)}`,
      )
    }
    const normalized = prefix.endsWith(this.separator) ? prefix : prefix + this.separator
    const depth = normalized.split(this.separator).length - 1
    if (depth > this.maxDepth) {
      throw invalidOption(
        'invalidatePrefix prefix',
        `${describe(prefix)} has ${depth} segments; this cache tracks ${this.maxDepth} (prefixes.maxDepth)`,
      )
    }
    return PREFIX_MARK + normalized
  }
}
