import { defineConfig } from 'tsup'

// One entry per public subpath; each maps to a folder under src/ (see package.json "exports").
export default defineConfig({
  entry: { index: 'src/index.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  splitting: true,
  treeshake: true,
})
