// The dashboard's service: reads go through the cache with @Cached (TypeScript 5 standard
// decorators: no compiler flag; tsx compiles them), the write invalidates what it changed.
// In your application, import from 'layercache' and 'layercache/decorators' instead.
import { Cached } from '../../src/decorators/index.js'
import type { Cache } from '../../src/index.js'
import type { Database, NewWidget, User, Widget } from './database.js'

export interface Dashboard {
  user: User
  widgets: Widget[]
  /** When this dashboard was computed: tells a cached copy from a fresh one. */
  computedAt: string
}

/** Builds dashboards from the database, and changes them. */
export class DashboardService {
  constructor(
    readonly cache: Cache,
    readonly database: Database,
  ) {}

  /**
   * A user's dashboard, or undefined for an unknown user (not cached: `undefined` never is).
   * The cache is taken from the instance, so one class serves every app it is created in.
   */
  @Cached({
    cache: (self: DashboardService) => self.cache,
    policy: 'dashboard',
    key: (userId: string) => `dashboard:${userId}`,
    tags: (userId: string) => [`user:${userId}`],
  })
  async getDashboard(userId: string): Promise<Dashboard | undefined> {
    const [user, widgets] = await Promise.all([
      this.database.findUser(userId),
      this.database.listWidgets(userId),
    ])
    if (!user) return undefined
    return { user, widgets, computedAt: new Date().toISOString() }
  }

  /** Adds a widget; undefined for an unknown user. */
  async addWidget(userId: string, widget: NewWidget): Promise<Widget | undefined> {
    if (!(await this.database.findUser(userId))) return undefined
    const added = await this.database.addWidget(userId, widget)
    // Commit first, then invalidate: both the dashboard above and the cached HTTP responses
    // carry the tag, here and (through the bus) on every other instance.
    await this.cache.invalidateTags([`user:${userId}`])
    return added
  }
}
