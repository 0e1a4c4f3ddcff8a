// layercache/decorators under both compiler settings. vitest's transformer lowers only legacy
// decorators, so TypeScript itself compiles the fixture here, once with the options of
// test/decorators/tsconfig.standard.json (TypeScript 5 standard decorators) and once with those of
// tsconfig.legacy.json (`experimentalDecorators`), and the same behaviour tests run on each.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import ts from 'typescript'
import { beforeAll, describe, expect, it } from 'vitest'
import { type Cache, CacheError, createCache } from '../../src/index.js'
import { manualClock } from '../helpers/clock.js'
import { deferred } from '../helpers/map-layer.js'

type Mode = 'standard' | 'legacy'
type Fixture = typeof import('../decorators/fixtures/services.js')

const root = fileURLToPath(new URL('../../', import.meta.url))
const fixturePath = resolve(root, 'test/decorators/fixtures/services.ts')
const generated = resolve(root, 'test/.generated')

/** The compiler options of test/decorators/tsconfig.<mode>.json, as `tsc` reads them. */
function compilerOptions(mode: Mode): ts.CompilerOptions {
  const file = resolve(root, `test/decorators/tsconfig.${mode}.json`)
  const parsed = ts.getParsedCommandLineOfConfigFile(
    file,
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'))
      },
    },
  )
  if (!parsed) throw new Error(`cannot read ${file}`)
  const { noEmit: _noEmit, declaration: _declaration, ...options } = parsed.options
  return options
}

/**
 * `source` (as if it were the file `path`) compiled for `mode`, its relative imports pointing at
 * the file URLs of the .ts files they name, so the import below loads the same modules as
 * this test file.
 */
function compile(source: string, path: string, mode: Mode): string {
  const { outputText, diagnostics } = ts.transpileModule(source, {
    compilerOptions: compilerOptions(mode),
    fileName: path,
    reportDiagnostics: true,
  })
  expect(diagnostics ?? []).toEqual([])
  return outputText.replace(
    /(from\s+|import\s*\(\s*)(['"])(\.{1,2}\/[^'"]+)\.js\2/g,
    (_, before: string, quote: string, specifier: string) =>
      `${before}${quote}${pathToFileURL(resolve(dirname(path), `${specifier}.ts`)).href}${quote}`,
  )
}

/**
 * Writes compiled code to test/.generated/<mode>/<name> (only when it changed, so that a watching
 * vitest does not rerun this file because it ran) and imports it.
 */
async function load<T>(code: string, mode: Mode, name: string): Promise<T> {
  const file = resolve(generated, mode, name)
  if (!existsSync(file) || readFileSync(file, 'utf8') !== code) {
    mkdirSync(dirname(file), { recursive: true })
    writeFileSync(file, code)
  }
  return (await import(/* @vite-ignore */ pathToFileURL(file).href)) as T
}

const compiled = new Map<Mode, string>()
function compiledFixture(mode: Mode): string {
  let code = compiled.get(mode)
  if (!code) {
    code = compile(readFileSync(fixturePath, 'utf8'), fixturePath, mode)
    compiled.set(mode, code)
  }
  return code
}

async function rejection(promise: Promise<unknown>): Promise<CacheError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(CacheError)
  return error as CacheError
}

function newCache() {
  const clock = manualClock()
  const cache = createCache({ clock, policies: { dashboard: { ttl: '5m' } } })
  return { clock, cache }
}

describe('the harness', () => {
  it('compiles the fixture with TypeScript 5 standard decorators in standard mode', () => {
    const code = compiledFixture('standard')
    expect(code).toContain('__esDecorate')
    expect(code).not.toMatch(/\b__decorate\b/)
    expect(compilerOptions('standard').experimentalDecorators).toBeFalsy()
  })

  it('compiles the fixture with experimentalDecorators in legacy mode', () => {
    const code = compiledFixture('legacy')
    expect(code).toMatch(/\b__decorate\b/)
    expect(code).not.toContain('__esDecorate')
    expect(compilerOptions('legacy').experimentalDecorators).toBe(true)
  })

  it('compiles both for ES2022 modules, importing the sources by file URL', () => {
    for (const mode of ['standard', 'legacy'] as const) {
      const options = compilerOptions(mode)
      expect(options.target).toBe(ts.ScriptTarget.ES2022)
      expect(options.module).toBe(ts.ModuleKind.ESNext)
      const code = compiledFixture(mode)
      expect(code).not.toMatch(/from\s+['"]\./)
      expect(code).toContain(
        `from '${pathToFileURL(resolve(root, 'src/decorators/index.ts')).href}'`,
      )
    }
  })
})

for (const mode of ['standard', 'legacy'] as const) {
  describe(`decorators, ${mode} mode`, () => {
    let fixture: Fixture
    beforeAll(async () => {
      fixture = await load<Fixture>(compiledFixture(mode), mode, 'services.mjs')
    })

    describe('@Cached', () => {
      it('runs the method on a miss only: a hit does not call it', async () => {
        const { cache } = newCache()
        const { DashboardService, backend } = fixture.defineServices(cache)
        const service = new DashboardService()
        const first = await service.getDashboard('u1')
        expect(first).toEqual({ userId: 'u1', name: 'Ada', region: 'eu', version: 1 })
        expect(await service.getDashboard('u1')).toEqual(first)
        expect(await new DashboardService().getDashboard('u1')).toEqual(first)
        expect(backend.calls.getDashboard).toBe(1)
        expect(await cache.get('dashboard:u1')).toEqual(first)
        await service.getDashboard('u2')
        expect(backend.calls.getDashboard).toBe(2)
      })

      it('applies the policy named in the options (a 5 minute TTL)', async () => {
        const { cache, clock } = newCache()
        const { DashboardService, backend } = fixture.defineServices(cache)
        const service = new DashboardService()
        await service.getDashboard('u1')
        clock.advance(299_000)
        await service.getDashboard('u1')
        expect(backend.calls.getDashboard).toBe(1)
        clock.advance(2_000)
        await service.getDashboard('u1')
        expect(backend.calls.getDashboard).toBe(2)
      })

      it('shares one run between concurrent calls', async () => {
        const { cache } = newCache()
        const { DashboardService, backend } = fixture.defineServices(cache)
        const gate = deferred<void>()
        backend.gate = gate.promise
        const service = new DashboardService()
        const calls = Array.from({ length: 20 }, () => service.getDashboard('u1'))
        await new Promise((r) => setImmediate(r))
        expect(backend.calls.getDashboard).toBe(1)
        gate.resolve()
        const values = await Promise.all(calls)
        expect(backend.calls.getDashboard).toBe(1)
        expect(values.every((v) => v === values[0])).toBe(true)
      })

      it('preserves `this`', async () => {
        const { cache } = newCache()
        const { DashboardService } = fixture.defineServices(cache)
        const service = new DashboardService('us')
        expect((await service.getDashboard('u1')).region).toBe('us')
        const { getDashboard } = service
        await expect(getDashboard.call(new DashboardService('ap'), 'u9')).resolves.toMatchObject({
          region: 'ap',
        })
      })

      it('passes the result to a tags function declaring one parameter more than the method', async () => {
        const { cache } = newCache()
        const { TeamService, backend } = fixture.defineServices(cache)
        const teams = new TeamService()
        const red = await teams.getTeam('red')
        expect(backend.tagCalls).toEqual([['red', red]])
        await cache.invalidateTags(['user:bob']) // a tag taken from the result
        await teams.getTeam('red')
        expect(backend.calls.getTeam).toBe(2)
        await cache.invalidateTags(['user:carol']) // not a member: the entry stays
        await teams.getTeam('red')
        expect(backend.calls.getTeam).toBe(2)
      })
    })

    describe('@InvalidateTags', () => {
      it('makes the next read recompute once the method resolved', async () => {
        const { cache } = newCache()
        const { DashboardService, backend } = fixture.defineServices(cache)
        const service = new DashboardService()
        expect((await service.getDashboard('u1')).name).toBe('Ada')
        expect(await service.updateProfile('u1', { name: 'Grace' })).toBeUndefined()
        expect(backend.calls.updateProfile).toBe(1)
        expect((await service.getDashboard('u1')).name).toBe('Grace')
        expect(backend.calls.getDashboard).toBe(2)
      })

      it('invalidates nothing when the method throws', async () => {
        const { cache } = newCache()
        const { DashboardService, backend } = fixture.defineServices(cache)
        const service = new DashboardService()
        await service.getDashboard('u1')
        await expect(service.updateProfile('u1', { name: ' ' })).rejects.toThrow(
          'a name must not be empty',
        )
        expect(backend.calls.updateProfile).toBe(1)
        expect(cache.stats().invalidations).toBe(0)
        await service.getDashboard('u1')
        expect(backend.calls.getDashboard).toBe(1)
      })

      it('invalidates only once the method resolved (not while it runs)', async () => {
        const { cache } = newCache()
        const { DashboardService, backend } = fixture.defineServices(cache)
        const service = new DashboardService()
        await service.getDashboard('u1')
        const gate = deferred<void>()
        backend.gate = gate.promise
        const update = service.updateProfile('u1', { name: 'Grace' })
        await new Promise((r) => setImmediate(r))
        expect(await cache.get('dashboard:u1')).toMatchObject({ name: 'Ada' })
        gate.resolve()
        await update
        expect(await cache.get('dashboard:u1')).toBeUndefined()
      })

      it('passes the result to a tags function declaring one parameter more than the method', async () => {
        const { cache } = newCache()
        const { TeamService, backend } = fixture.defineServices(cache)
        const teams = new TeamService()
        await teams.getTeam('red')
        const team = await teams.addMember('red', 'carol')
        expect(team).toEqual({ id: 'red', members: ['ada', 'bob', 'carol'] })
        expect(backend.tagCalls.at(-1)).toEqual(['red', 'carol', team])
        expect((await teams.getTeam('red')).members).toContain('carol')
        expect(backend.calls.getTeam).toBe(2)
      })
    })

    describe('@CachePut', () => {
      it('always runs the method, and the next @Cached read gets its result', async () => {
        const { cache } = newCache()
        const { DashboardService, backend } = fixture.defineServices(cache)
        const service = new DashboardService()
        const old = await service.getDashboard('u1')
        const saved = await service.saveDashboard({ ...old, name: 'Grace' })
        expect(saved).toEqual({ ...old, name: 'Grace', version: 2 })
        const again = await service.saveDashboard(saved)
        expect(again.version).toBe(3)
        expect(backend.calls.saveDashboard).toBe(2)
        expect(await service.getDashboard('u1')).toEqual(again)
        expect(backend.calls.getDashboard).toBe(1)
      })

      it('writes with the tags and policy of its options', async () => {
        const { cache, clock } = newCache()
        const { DashboardService, backend } = fixture.defineServices(cache)
        const service = new DashboardService()
        await service.saveDashboard({ userId: 'u2', name: 'Lin', region: 'eu', version: 1 })
        await cache.invalidateTags(['user:u2'])
        expect(await cache.get('dashboard:u2')).toBeUndefined()
        await service.saveDashboard({ userId: 'u2', name: 'Lin', region: 'eu', version: 1 })
        clock.advance(301_000)
        expect(await cache.get('dashboard:u2')).toBeUndefined()
        expect(backend.calls.saveDashboard).toBe(2)
      })

      it('writes nothing when the method throws', async () => {
        const { cache } = newCache()
        const { DashboardService } = fixture.defineServices(cache)
        const service = new DashboardService()
        const broken = null as unknown as Parameters<typeof service.saveDashboard>[0]
        await expect(service.saveDashboard(broken)).rejects.toThrow(TypeError)
        expect(cache.stats().sets).toBe(0)
      })
    })

    describe('default keys', () => {
      const since = '2024-01-02T03:04:05.006Z'

      it('are the class and method names, then the stable encoding of the arguments', async () => {
        const { cache } = newCache()
        const { ReportService } = fixture.defineServices(cache)
        const value = await new ReportService().search(
          { b: 2, a: [1, 'x'] },
          new Date(since),
          new Map([['w', 1]]),
          10n,
        )
        const key = `ReportService.search:{"a":[1,"x"],"b":2},#d${since},#m{"w":1},10n`
        expect(await cache.get(key)).toBe(value)
      })

      it('do not depend on the order of object keys', async () => {
        const { cache } = newCache()
        const { ReportService, backend } = fixture.defineServices(cache)
        const reports = new ReportService()
        const weights = new Map<string, number>()
        await reports.search({ a: 1, b: { c: 2, d: 3 } }, new Date(since), weights, 1n)
        await reports.search({ b: { d: 3, c: 2 }, a: 1 }, new Date(since), weights, 1n)
        expect(backend.calls.search).toBe(1)
        await reports.search({ a: 1, b: { c: 2, d: 4 } }, new Date(since), weights, 1n)
        expect(backend.calls.search).toBe(2)
      })

      it('encode Dates, Maps and BigInts by their contents', async () => {
        const { cache } = newCache()
        const { ReportService, backend } = fixture.defineServices(cache)
        const reports = new ReportService()
        const search = (time: string, weights: [string, number][], budget: bigint) =>
          reports.search({}, new Date(time), new Map(weights), budget)
        await search(
          since,
          [
            ['x', 1],
            ['y', 2],
          ],
          5n,
        )
        await search(
          since,
          [
            ['y', 2],
            ['x', 1],
          ],
          5n,
        ) // other Date and Map objects, same contents
        expect(backend.calls.search).toBe(1)
        await search(
          '2024-01-02T03:04:05.007Z',
          [
            ['x', 1],
            ['y', 2],
          ],
          5n,
        )
        await search(
          since,
          [
            ['x', 1],
            ['y', 3],
          ],
          5n,
        )
        await search(
          since,
          [
            ['x', 1],
            ['y', 2],
          ],
          6n,
        )
        expect(backend.calls.search).toBe(4)
      })

      it('tell a BigInt from a number and a string', async () => {
        const { cache } = newCache()
        const { ReportService, backend } = fixture.defineServices(cache)
        const reports = new ReportService()
        expect(await reports.lookup(1n)).toBe('bigint')
        expect(await reports.lookup(1)).toBe('number')
        expect(await reports.lookup('1')).toBe('string')
        expect(await reports.lookup(1n)).toBe('bigint')
        expect(backend.calls.lookup).toBe(3)
      })

      it('refuse a function or a symbol argument with E_INVALID_KEY naming the method', async () => {
        const { cache } = newCache()
        const { ReportService, backend } = fixture.defineServices(cache)
        const reports = new ReportService()
        for (const value of [() => 1, Symbol('s'), { nested: [Symbol.iterator] }]) {
          const error = await rejection(reports.lookup(value))
          expect(error.code).toBe('E_INVALID_KEY')
          expect(error.message).toContain('@Cached on ReportService.lookup')
          expect(error.message).toContain('give the decorator a key function')
        }
        expect(backend.calls.lookup).toBeUndefined()
      })
    })

    describe('subclasses and static methods', () => {
      it('gives an inherited method a key of the subclass (its own entries)', async () => {
        const { cache } = newCache()
        const { ReportService, AuditedReportService, backend } = fixture.defineServices(cache)
        expect(await new ReportService().summary(1)).toBe('summary 1 by reports')
        expect(await new AuditedReportService().summary(1)).toBe('summary 1 by audited')
        expect(await new AuditedReportService().summary(1)).toBe('summary 1 by audited')
        expect(backend.calls.summary).toBe(2)
        expect(backend.seen).toEqual(['ReportService.summary', 'AuditedReportService.summary'])
        expect(await cache.get('ReportService.summary:1')).toBe('summary 1 by reports')
        expect(await cache.get('AuditedReportService.summary:1')).toBe('summary 1 by audited')
      })

      it('caches an override calling the decorated method through super, under the subclass', async () => {
        const { cache } = newCache()
        const { LoggedReportService, backend } = fixture.defineServices(cache)
        const logged = new LoggedReportService()
        expect(await logged.summary(2)).toBe('summary 2 by reports')
        expect(await logged.summary(2)).toBe('summary 2 by reports')
        expect(backend.calls.summary).toBe(1)
        expect(backend.seen.filter((s) => s.startsWith('LoggedReportService'))).toHaveLength(3)
        expect(await cache.get('LoggedReportService.summary:2')).toBe('summary 2 by reports')
      })

      it('shares the entries of a method given a `name` across subclasses', async () => {
        const { cache } = newCache()
        const { ReportService, AuditedReportService, backend } = fixture.defineServices(cache)
        expect(await new ReportService().shared(3)).toBe('shared 3 by reports')
        expect(await new AuditedReportService().shared(3)).toBe('shared 3 by reports')
        expect(backend.calls.shared).toBe(1)
        expect(await cache.get('reports.shared:3')).toBe('shared 3 by reports')
      })

      it('caches a static method, `this` being the class called', async () => {
        const { cache, clock } = newCache()
        const { Rates, EuroRates, backend } = fixture.defineServices(cache)
        expect(await Rates.rate('EUR', 'USD')).toBeCloseTo(1.1)
        expect(await Rates.rate('EUR', 'USD')).toBeCloseTo(1.1)
        expect(backend.calls.rate).toBe(1)
        expect(await cache.get('Rates.rate:"EUR","USD"')).toBeCloseTo(1.1)
        // A subclass calling the inherited static method: its own key, and `this` is the subclass.
        expect(await EuroRates.rate('EUR', 'USD')).toBeCloseTo(2.2)
        expect(await EuroRates.rate('EUR', 'USD')).toBeCloseTo(2.2)
        expect(backend.calls.rate).toBe(2)
        expect(backend.seen).toEqual(['Rates.rate', 'EuroRates.rate'])
        expect(await cache.get('EuroRates.rate:"EUR","USD"')).toBeCloseTo(2.2)
        clock.advance(61_000) // ttl: '1m' of the options
        await Rates.rate('EUR', 'USD')
        expect(backend.calls.rate).toBe(3)
      })
    })

    describe('DI', () => {
      it('resolves `cache: (self) => self.cache` at each call, for the object called', async () => {
        const { cache: unused } = newCache()
        const a = createCache()
        const b = createCache()
        const { UserRepository, backend } = fixture.defineServices(unused)
        const inA = new UserRepository(a, 'a')
        const inB = new UserRepository(b, 'b')
        expect(await inA.findUser(1)).toEqual({ id: 1, from: 'a' })
        expect(await inB.findUser(1)).toEqual({ id: 1, from: 'b' })
        expect(await inA.findUser(1)).toEqual({ id: 1, from: 'a' })
        expect(backend.calls.findUser).toBe(2)
        expect(await a.get('user:1')).toEqual({ id: 1, from: 'a' })
        expect(await b.get('user:1')).toEqual({ id: 1, from: 'b' })
        expect(await unused.get('user:1')).toBeUndefined()
      })

      it('refuses, at the call, a cache function that returns no cache', async () => {
        const { cache } = newCache()
        const { UserRepository } = fixture.defineServices(cache)
        const repository = new UserRepository(undefined as unknown as Cache, 'none')
        const error = await rejection(repository.findUser(1))
        expect(error.code).toBe('E_INVALID_OPTION')
        expect(error.message).toContain('@Cached options.cache')
      })
    })
  })
}

describe('decorating a method that is not async', () => {
  const snippet = (path: string) => `
    import { Cached } from '${path}'
    export function define(cache: any) {
      class Prices {
        @Cached({ cache })
        price(id: string): number {
          return id.length
        }
      }
      return Prices
    }`
  const at = resolve(root, 'test/decorators/fixtures/not-async.ts')

  it('throws E_INVALID_OPTION when the class is defined, in legacy mode', async () => {
    const code = compile(snippet('../../../src/decorators/index.js'), at, 'legacy')
    expect(code).toMatch(/\b__decorate\b/)
    const { define } = await load<{ define: (cache: Cache) => unknown }>(
      code,
      'legacy',
      'not-async.mjs',
    )
    let error: unknown
    try {
      define(createCache())
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(CacheError)
    expect((error as CacheError).code).toBe('E_INVALID_OPTION')
    expect((error as CacheError).message).toContain('@Cached')
    expect((error as CacheError).message).toContain('price is not a native async function')
  })
})
