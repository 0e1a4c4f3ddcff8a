import { describe, invalidOption } from './errors.js'

/** A duration: milliseconds as a number, or a string such as `'250ms'`, `'90s'`, `'5m'`, `'1h'`, `'7d'`, `'2w'`. */
export type Duration = number | string

/** A size: bytes as a number, or a string such as `'512kb'`, `'50mb'`, `'1gb'`. */
export type Size = number | string

const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
  y: 31_536_000_000,
}

const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1024,
  mb: 1024 ** 2,
  gb: 1024 ** 3,
}

const DURATION_RE = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w|y)\s*$/i
const SIZE_RE = /^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)\s*$/i

/**
 * Parses a duration to milliseconds. `path` names the option in the error message.
 * Accepts non-negative finite numbers (ms) and strings with a unit (ms, s, m, h, d, w, y).
 */
export function parseDuration(value: unknown, path: string, allowInfinity = false): number {
  if (typeof value === 'number') {
    if (value === Number.POSITIVE_INFINITY && allowInfinity) return value
    if (!Number.isFinite(value) || value < 0) {
      throw invalidOption(
        path,
        `must be a non-negative number of milliseconds or a string like '90s', got ${describe(value)}`,
      )
    }
    return value
  }
  if (typeof value === 'string') {
    const match = DURATION_RE.exec(value)
    if (match) return Number(match[1]) * DURATION_UNITS[match[2]!.toLowerCase()]!
  }
  throw invalidOption(
    path,
    `must be milliseconds or a duration string such as '500ms', '90s', '5m', '1h', '7d', got ${describe(value)}`,
  )
}

/** Parses a size to bytes. Accepts positive numbers (bytes) and strings with a unit (b, kb, mb, gb). */
export function parseSize(value: unknown, path: string): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value <= 0) {
      throw invalidOption(
        path,
        `must be a positive number of bytes or a string like '50mb', got ${describe(value)}`,
      )
    }
    return Math.floor(value)
  }
  if (typeof value === 'string') {
    const match = SIZE_RE.exec(value)
    if (match) {
      const bytes = Math.floor(Number(match[1]) * SIZE_UNITS[match[2]!.toLowerCase()]!)
      if (bytes > 0) return bytes
    }
  }
  throw invalidOption(
    path,
    `must be bytes or a size string such as '512kb', '50mb', '1gb', got ${describe(value)}`,
  )
}
