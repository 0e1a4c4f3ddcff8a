import { expect } from 'vitest'
import { CacheError } from '../../src/index.js'

/** Asserts `fn` throws (or rejects with) a CacheError with `code` whose message matches `text`. */
export async function expectCacheError(
  fn: () => unknown,
  code: string,
  text: string | RegExp,
): Promise<void> {
  let caught: unknown
  try {
    await fn()
  } catch (error) {
    caught = error
  }
  expect(caught).toBeInstanceOf(CacheError)
  expect((caught as CacheError).code).toBe(code)
  expect((caught as CacheError).message).toMatch(text)
}
