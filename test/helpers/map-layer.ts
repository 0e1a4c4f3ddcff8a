import type { Entry, Layer, LayerContext } from '../../src/index.js'

/** What a {@link MapLayer} was asked to do, for assertions. */
export interface MapLayerCalls {
  get: number
  getMany: number
  set: number
  setMany: number
  delete: number
  deleteMany: number
}

/**
 * An asynchronous layer over a Map that several caches may share, standing in for a shared
 * store: like a real one it prefixes keys with the cache's namespace and expires by its clock.
 * `failing` makes every call throw; `ttls` records the TTL of each write.
 */
export class MapLayer implements Layer {
  readonly store: Map<string, { entry: Entry; expiresAt: number }>
  readonly calls: MapLayerCalls = {
    get: 0,
    getMany: 0,
    set: 0,
    setMany: 0,
    delete: 0,
    deleteMany: 0,
  }
  readonly ttls = new Map<string, number>()
  failing = false
  #namespace = ''
  #now: () => number = Date.now

  constructor(
    readonly name: string,
    store?: Map<string, { entry: Entry; expiresAt: number }>,
    readonly batch = true,
  ) {
    this.store = store ?? new Map()
    if (!batch) {
      this.getMany = undefined
      this.setMany = undefined
      this.deleteMany = undefined
    }
  }

  bind(context: LayerContext): void {
    this.#namespace = `${context.namespace}:`
    this.#now = () => context.clock.now()
  }

  #check(): void {
    if (this.failing) throw new Error(`${this.name} is down`)
  }

  async get(key: string): Promise<Entry | undefined> {
    this.calls.get++
    this.#check()
    const record = this.store.get(this.#namespace + key)
    if (!record || record.expiresAt <= this.#now()) return undefined
    return record.entry
  }

  async set(key: string, entry: Entry, ttlMs: number): Promise<void> {
    this.calls.set++
    this.#check()
    this.ttls.set(key, ttlMs)
    this.store.set(this.#namespace + key, { entry, expiresAt: this.#now() + ttlMs })
  }

  async delete(key: string): Promise<void> {
    this.calls.delete++
    this.#check()
    this.store.delete(this.#namespace + key)
  }

  async clear(): Promise<void> {
    this.#check()
    for (const key of [...this.store.keys()]) {
      if (key.startsWith(this.#namespace)) this.store.delete(key)
    }
  }

  getMany? = async (keys: readonly string[]): Promise<(Entry | undefined)[]> => {
    this.calls.getMany++
    this.#check()
    const now = this.#now()
    return keys.map((key) => {
      const record = this.store.get(this.#namespace + key)
      return record && record.expiresAt > now ? record.entry : undefined
    })
  }

  setMany? = async (items: readonly { key: string; entry: Entry; ttlMs: number }[]) => {
    this.calls.setMany++
    this.#check()
    for (const item of items) {
      this.ttls.set(item.key, item.ttlMs)
      this.store.set(this.#namespace + item.key, {
        entry: item.entry,
        expiresAt: this.#now() + item.ttlMs,
      })
    }
  }

  deleteMany? = async (keys: readonly string[]) => {
    this.calls.deleteMany++
    this.#check()
    for (const key of keys) this.store.delete(this.#namespace + key)
  }
}

/** A promise with its resolve/reject exposed, for deterministic interleavings. */
export function deferred<T>() {
  let resolve!: (value: T) => void
  let reject!: (error: unknown) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}
