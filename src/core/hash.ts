// A 106-bit non-cryptographic hash (two independent 53-bit lanes of cyrb53). We need no
// cryptographic strength: a hashed key's full text is stored in its entry and compared on
// read, so a collision is a miss, never a wrong value. Pure JS keeps the core free of `node:`.

function cyrb53(text: string | Uint8Array, seed: number): number {
  let h1 = 0xdeadbeef ^ seed
  let h2 = 0x41c6ce57 ^ seed
  const bytes = typeof text === 'string' ? undefined : text
  for (let i = 0; i < text.length; i++) {
    const ch = bytes ? bytes[i]! : (text as string).charCodeAt(i)
    h1 = Math.imul(h1 ^ ch, 2654435761)
    h2 = Math.imul(h2 ^ ch, 1597334677)
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507)
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909)
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507)
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909)
  return 4294967296 * (2097151 & h2) + (h1 >>> 0)
}

/** Hashes a string (or bytes) to a fixed-length 22-character base-36 digest. */
export function hashString(text: string | Uint8Array): string {
  return (
    cyrb53(text, 0x9e3779b9).toString(36).padStart(11, '0') +
    cyrb53(text, 0x85ebca6b).toString(36).padStart(11, '0')
  )
}
