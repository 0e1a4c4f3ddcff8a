import { execFile } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

// Every examples/*.ts file runs as a child process, so examples cannot rot. New files are
// picked up automatically; those listed below must also print the given lines.

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const examplesDir = join(root, 'examples')
const tsx = join(root, 'node_modules', '.bin', 'tsx')
const RUN_TIMEOUT_MS = 20_000

const expectedOutput: Record<string, readonly string[]> = {
  'quickstart.ts': [
    'database queries so far: 1',
    'same object: true',
    '100 concurrent wraps of user:7 ran 1 database query',
    "get('greeting') -> hello",
    "after delete('greeting') -> undefined",
    'stats: hits=2 misses=3 sets=3 deletes=1 factoryRuns=2',
    'cache closed',
  ],
  'policies.ts': [
    `t=299.999s get('page:home') -> "<html>" (hit in memory)`,
    "t=300s get('page:home') -> undefined (miss)",
    `t=1800s get('session:abc') -> undefined (miss)`,
    "t=60s get('report:daily') -> 1234 (hit in big)",
    "t=60s get('report:daily') -> 1234 (hit in memory)",
    "t=3600s get('report:daily') -> undefined (miss)",
    `t=0s get('blob:1') -> "large value" (hit in big)`,
    'just before 8m still cached: feed:a, feed:b, feed:c',
    'just before 9m still cached: feed:a, feed:b',
    'just before 10m still cached: feed:a',
    "t=10s get('flash') -> undefined (miss)",
    "t=10s get('not-cached') -> undefined (miss)",
    `t=36500d get('forever') -> "value" (hit in memory)`,
  ],
}

interface Run {
  /** The exit code; a non-zero number or null on failure. */
  code: number | string | null
  /** True when the run was killed for exceeding RUN_TIMEOUT_MS. */
  timedOut: boolean
  stdout: string
  stderr: string
}

function runExample(file: string): Promise<Run> {
  return new Promise((resolvePromise) => {
    execFile(
      tsx,
      [join(examplesDir, file)],
      { cwd: root, timeout: RUN_TIMEOUT_MS, env: { ...process.env, NO_COLOR: '1' } },
      (error, stdout, stderr) => {
        const failure = error as
          | (Error & { code?: number | string | null; killed?: boolean })
          | null
        resolvePromise({
          code: failure ? (failure.code ?? null) : 0,
          timedOut: failure?.killed === true,
          stdout,
          stderr,
        })
      },
    )
  })
}

const files = readdirSync(examplesDir)
  .filter((name) => name.endsWith('.ts'))
  .sort()

describe('examples', () => {
  it('include every example with expected output', () => {
    for (const name of Object.keys(expectedOutput)) expect(files).toContain(name)
  })

  for (const file of files) {
    it(`${file} exits 0 and prints what it shows`, {
      timeout: RUN_TIMEOUT_MS + 5_000,
    }, async () => {
      const run = await runExample(file)
      const why = run.timedOut ? `timed out after ${RUN_TIMEOUT_MS} ms` : `stderr:\n${run.stderr}`
      expect(run.code, `exit code of ${file}; ${why}`).toBe(0)
      for (const text of expectedOutput[file] ?? []) {
        expect(run.stdout, `output of ${file}`).toContain(text)
      }
    })
  }
})
