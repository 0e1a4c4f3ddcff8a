import { deflateRawSync, inflateRawSync } from 'node:zlib'
import type { Compression } from './codec.js'

/** Deflate (zlib, raw) above `threshold` bytes: cheap on CPU, good on JSON-like data. */
export function deflateCompression(threshold: number): Compression {
  return {
    threshold,
    compress: (bytes) => deflateRawSync(bytes),
    decompress: (bytes, maxBytes) => inflateRawSync(bytes, { maxOutputLength: maxBytes }),
  }
}
