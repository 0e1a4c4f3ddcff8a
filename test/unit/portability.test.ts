import { readdirSync, readFileSync } from 'node:fs'
import { builtinModules } from 'node:module'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

// DESIGN.md: `src/` outside the Redis layer imports no `node:` module, so the memory-only
// cache, the decorators and `layercache/http` run on Bun, Deno and edge runtimes too.
const src = resolve(dirname(fileURLToPath(import.meta.url)), '../../src')
const NODE_ONLY = new Set(['redis', 'testing'])

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return NODE_ONLY.has(entry.name) && dir === src ? [] : sources(path)
    return entry.name.endsWith('.ts') ? [path] : []
  })
}

const builtins = new Set(builtinModules)
const IMPORT =
  /^\s*(?:import|export)\b[^'"]*?from\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/gm

describe('portability', () => {
  it('keeps node: modules out of src/ outside the Redis layer and the test kit', () => {
    const files = sources(src)
    expect(files.some((file) => file.includes(`${join('src', 'http')}`))).toBe(true)
    const offenders: string[] = []
    for (const file of files) {
      for (const match of readFileSync(file, 'utf8').matchAll(IMPORT)) {
        const specifier = match[1] ?? match[2]!
        if (specifier.startsWith('node:') || builtins.has(specifier)) {
          offenders.push(`${relative(src, file)} imports ${specifier}`)
        }
      }
    }
    expect(offenders).toEqual([])
  })
})
