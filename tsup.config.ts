import { defineConfig } from 'tsup'

// One entry per public subpath; each maps to a folder under src/ (see package.json "exports").
const entry = {
  index: 'src/index.ts',
  'redis/index': 'src/redis/index.ts',
  'testing/index': 'src/testing/index.ts',
  'decorators/index': 'src/decorators/index.ts',
  'http/index': 'src/http/index.ts',
}

export default defineConfig([
  {
    entry,
    format: 'esm',
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'node20',
    splitting: true,
    treeshake: true,
  },
  {
    entry,
    format: 'cjs',
    dts: true,
    sourcemap: true,
    target: 'node20',
    // Shared chunks in CJS too: otherwise each subpath carries its own copy of the core, and
    // an error thrown by `layercache/redis` is not `instanceof` the `CacheError` of `layercache`.
    splitting: true,
    treeshake: true,
    // quick-lru 7 is ESM-only; Node before 20.19 cannot require() it, so the CJS build
    // carries its own copy and works on every Node 20.
    noExternal: ['quick-lru'],
  },
])
