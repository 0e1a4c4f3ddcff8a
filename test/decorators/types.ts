// Type tests of layercache/decorators. Never run: `npm run typecheck` compiles this file with
// TypeScript 5 standard decorators (tsconfig.standard.json) and with legacy
// `experimentalDecorators` (tsconfig.legacy.json). Each `@ts-expect-error` fails the build if the
// error it expects disappears.
//
// A decorator's arguments are checked before TypeScript looks at the method, so the parameters of
// `key` and `tags` are not inferred from it: users annotate them, and they must then accept the
// method's parameters (a tags function's extra parameter, the method's resolved result), and the
// method must return a promise.
import { expectTypeOf } from 'vitest'
import { Cached, CachePut, InvalidateTags } from '../../src/decorators/index.js'
import { type Cache, createCache } from '../../src/index.js'

const cache = createCache({ policies: { dashboard: { ttl: '5m' } } })

interface Dashboard {
  userId: string
  widgets: string[]
}
interface ProfilePatch {
  name?: string
}

// The example of the issue, as written there.
export class DashboardService {
  @Cached({
    cache,
    policy: 'dashboard',
    key: (userId: string) => `dashboard:${userId}`,
    tags: (userId: string) => [`user:${userId}`],
  })
  async getDashboard(userId: string): Promise<Dashboard> {
    return { userId, widgets: [] }
  }

  @InvalidateTags({ cache, tags: (userId: string) => [`user:${userId}`] })
  async updateProfile(userId: string, patch: ProfilePatch): Promise<void> {
    void [userId, patch]
  }

  @CachePut({ cache, key: (dashboard: Dashboard) => `dashboard:${dashboard.userId}` })
  async saveDashboard(dashboard: Dashboard): Promise<Dashboard> {
    return dashboard
  }
}

// Decorating leaves the method's type as it was.
expectTypeOf<DashboardService['getDashboard']>().toEqualTypeOf<
  (userId: string) => Promise<Dashboard>
>()
expectTypeOf<DashboardService['updateProfile']>().toEqualTypeOf<
  (userId: string, patch: ProfilePatch) => Promise<void>
>()

// Every form of the options that must compile.
export class Accepted {
  constructor(readonly cache: Cache) {}

  // Default key; a key and tags using a prefix of the parameters.
  @Cached({ cache })
  async byDefault(id: number, page: number): Promise<string[]> {
    return [String(id), String(page)]
  }

  @Cached({ cache, key: (id: number) => `item:${id}`, tags: ['items'] })
  async byPrefix(id: number, verbose: boolean): Promise<string> {
    return verbose ? `item ${id}` : String(id)
  }

  // A tags function declaring one parameter more than the method gets the result there.
  @Cached({
    cache,
    key: (userId: string) => `dashboard:${userId}`,
    tags: (userId: string, dashboard: Dashboard) => [`user:${userId}`, ...dashboard.widgets],
  })
  async withResultTags(userId: string): Promise<Dashboard> {
    return { userId, widgets: [] }
  }

  @InvalidateTags({
    cache,
    tags: (teamId: string, _member: string, members: string[]) => [teamId, ...members],
    mode: 'stale',
  })
  async addMember(teamId: string, member: string): Promise<string[]> {
    return [teamId, member]
  }

  @CachePut({ cache, key: (id: number) => `item:${id}`, tags: (id: number) => [`item:${id}`] })
  async save(id: number, body: string): Promise<string> {
    return `${id}:${body}`
  }

  // DI: the cache of the object called.
  @Cached({ cache: (self) => self.cache, key: (id: number) => `user:${id}` })
  async findUser(id: number): Promise<{ id: number }> {
    return { id }
  }

  @Cached({ cache, ttl: '1m', staleWhileRevalidate: '10m' })
  static async rate(from: string, to: string): Promise<number> {
    return from === to ? 1 : 2
  }

  @Cached({ cache, name: 'accepted.noArgs' })
  async noArgs(): Promise<number> {
    return 1
  }
}

// What must not compile.
export class Refused {
  // A key function whose parameter type is not the method's.
  // @ts-expect-error key takes a string, the method a number
  @Cached({ cache, key: (id: string) => `item:${id}` })
  async wrongKey(id: number): Promise<number> {
    return id
  }

  // @ts-expect-error tags take a string, the method a number
  @InvalidateTags({ cache, tags: (id: string) => [id] })
  async wrongTags(id: number): Promise<number> {
    return id
  }

  // @ts-expect-error key takes a string, the method a number
  @CachePut({ cache, key: (id: string) => `item:${id}` })
  async wrongPutKey(id: number): Promise<number> {
    return id
  }

  // @ts-expect-error the second parameter is a number, not a string
  @Cached({ cache, key: (id: string, page: string) => `${id}:${page}` })
  async wrongSecond(id: string, page: number): Promise<number> {
    return id.length + page
  }

  // A tags function whose extra parameter is not the method's result.
  // @ts-expect-error the result is a Dashboard, not a string
  @Cached({ cache, tags: (userId: string, result: string) => [userId, result] })
  async wrongResult(userId: string): Promise<Dashboard> {
    return { userId, widgets: [] }
  }

  // @ts-expect-error the result is a number, not a string
  @InvalidateTags({ cache, tags: (id: string, _page: number, result: string) => [id, result] })
  async wrongResultToo(id: string, page: number): Promise<number> {
    return id.length + page
  }

  // A non-async method (its callers would get a promise where they expect a value).
  // @ts-expect-error not async
  @Cached({ cache })
  notAsync(id: number): number {
    return id
  }

  // @ts-expect-error not async
  @InvalidateTags({ cache, tags: ['all'] })
  notAsyncEither(): void {}

  // Not a method.
  // @ts-expect-error a field
  @Cached({ cache })
  field = 1
}

// Options are checked too.
// @ts-expect-error `cache` is required
Cached({ key: (id: string) => id })
// @ts-expect-error `tags` is required
InvalidateTags({ cache })
// @ts-expect-error a key is a function, not a string
Cached({ cache, key: 'user' })
