import { type ChildProcess, fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

/**
 * A forked test worker (`node --import tsx <script>`) with every message it sent kept until
 * someone takes it. `From` are its messages (a `{ type: 'failed', message }` one makes `take`
 * throw), `To` what the test sends it.
 */
export class ForkedWorker<From extends { type: string }, To> {
  readonly #child: ChildProcess
  readonly #inbox: From[] = []
  readonly #waiters = new Set<() => void>()
  readonly exited: Promise<void>
  #gone: Error | undefined

  constructor(
    script: string,
    readonly answerMs = 5_000,
  ) {
    this.#child = fork(script, [], {
      cwd: ROOT,
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    this.#child.on('message', (message: From) => {
      this.#inbox.push(message)
      this.#wake()
    })
    this.exited = new Promise((resolve) => {
      this.#child.once('exit', (code, signal) => {
        this.#gone = new Error(`worker exited (${signal ?? code})`)
        this.#wake()
        resolve()
      })
    })
  }

  get pid(): number {
    return this.#child.pid!
  }

  send(message: To): void {
    this.#child.send(message as object)
  }

  /** Takes the first message of `type` (waiting for it at most `timeoutMs`); a 'failed' one throws. */
  async take<K extends From['type']>(
    type: K,
    timeoutMs = this.answerMs,
  ): Promise<Extract<From, { type: K }>> {
    const deadline = performance.now() + timeoutMs
    for (;;) {
      const failed = this.#inbox.find((m) => m.type === 'failed') as
        | { message?: string }
        | undefined
      if (failed) throw new Error(`worker failed: ${failed.message}`)
      const index = this.#inbox.findIndex((m) => m.type === type)
      if (index >= 0) return this.#inbox.splice(index, 1)[0] as Extract<From, { type: K }>
      if (this.#gone) throw this.#gone
      const left = deadline - performance.now()
      if (left <= 0) throw new Error(`worker ${this.pid} sent no '${type}' within ${timeoutMs} ms`)
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer)
          this.#waiters.delete(wake)
          resolve()
        }
        const timer = setTimeout(wake, left)
        this.#waiters.add(wake)
      })
    }
  }

  /** Whether a message of `type` arrived and was not taken yet. */
  has(type: From['type']): boolean {
    return this.#inbox.some((m) => m.type === type)
  }

  /** SIGKILL, and waits for the exit. */
  async kill(): Promise<void> {
    if (this.#child.exitCode === null && this.#child.signalCode === null) {
      this.#child.kill('SIGKILL')
    }
    await this.exited
  }

  #wake(): void {
    for (const wake of [...this.#waiters]) wake()
  }
}
