// The dashboard's data source: a fake, slow database (30-50 ms a query) that counts its
// queries, so the examples can show what the cache saves. In memory by default; with a file,
// every query reads the file again, so several server processes share one set of data (what
// the Redis examples need to show an instance reading what another one wrote).
import { randomUUID } from 'node:crypto'
import { readFile, rename, writeFile } from 'node:fs/promises'

export interface User {
  id: string
  name: string
  plan: 'free' | 'pro'
}

export const WIDGET_KINDS = ['chart', 'table', 'note'] as const

export interface Widget {
  id: string
  kind: (typeof WIDGET_KINDS)[number]
  title: string
}

/** What a client sends to add a widget. */
export type NewWidget = Omit<Widget, 'id'>

interface Tables {
  users: Record<string, User>
  widgets: Record<string, Widget[]>
}

export interface DatabaseOptions {
  /** A JSON file to keep the data in (created with the seed data if missing). Default: memory. */
  file?: string
  /** The latency of each query: random in [min, max] ms. Default [30, 50]. */
  latencyMs?: readonly [number, number]
}

const seed = (): Tables => ({
  users: {
    '1': { id: '1', name: 'Ada', plan: 'pro' },
    '2': { id: '2', name: 'Linus', plan: 'free' },
    '3': { id: '3', name: 'Grace', plan: 'pro' },
    '4': { id: '4', name: 'Margaret', plan: 'free' },
    '5': { id: '5', name: 'Edsger', plan: 'free' },
  },
  widgets: {
    '1': [
      { id: 'w1', kind: 'chart', title: 'Revenue' },
      { id: 'w2', kind: 'table', title: 'Top customers' },
    ],
    '2': [{ id: 'w3', kind: 'note', title: 'Release notes' }],
  },
})

/** A slow database of users and their widgets. */
export class Database {
  /** Queries run so far (reads and writes) by this process. */
  queries = 0
  readonly #file: string | undefined
  readonly #latency: readonly [number, number]
  #memory: Tables | undefined

  constructor(options: DatabaseOptions = {}) {
    this.#file = options.file
    this.#latency = options.latencyMs ?? [30, 50]
    if (this.#file === undefined) this.#memory = seed()
  }

  async findUser(id: string): Promise<User | undefined> {
    const tables = await this.#query()
    return tables.users[id]
  }

  async listWidgets(userId: string): Promise<Widget[]> {
    const tables = await this.#query()
    return tables.widgets[userId] ?? []
  }

  /** Adds a widget to an existing user's dashboard. */
  async addWidget(userId: string, widget: NewWidget): Promise<Widget> {
    const tables = await this.#query()
    const added: Widget = { id: `w-${randomUUID().slice(0, 8)}`, ...widget }
    tables.widgets[userId] = [...(tables.widgets[userId] ?? []), added]
    await this.#save(tables)
    return added
  }

  /** Waits the latency of one query, counts it, and returns the tables (read again from the file). */
  async #query(): Promise<Tables> {
    this.queries++
    const [min, max] = this.#latency
    await new Promise((resolve) => setTimeout(resolve, min + Math.random() * (max - min)))
    if (this.#memory) return this.#memory
    return this.#load(this.#file!)
  }

  async #load(file: string): Promise<Tables> {
    try {
      return JSON.parse(await readFile(file, 'utf8')) as Tables
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
      const tables = seed()
      // 'wx': of two processes starting together, one writes the seed and neither overwrites.
      await writeFile(file, JSON.stringify(tables), { flag: 'wx' }).catch((failed) => {
        if ((failed as NodeJS.ErrnoException).code !== 'EEXIST') throw failed
      })
      return tables
    }
  }

  async #save(tables: Tables): Promise<void> {
    if (this.#file === undefined) return
    // Write aside, then rename: a reader in another process sees the old file or the new one.
    const temporary = `${this.#file}.${process.pid}.tmp`
    await writeFile(temporary, JSON.stringify(tables))
    await rename(temporary, this.#file)
  }
}
