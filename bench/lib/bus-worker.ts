import {
  type BusSubject,
  busSubject,
  type FromBusWorker,
  isRound,
  markedValue,
  type ToBusWorker,
  type Watch,
  watch,
} from './bus.js'
import { epochMs } from './stampede.js'

// One instance of the bus-latency probe, forked by suites/bus.ts (run through tsx) with an IPC
// channel: a cache with a memory layer, a Redis layer and a bus, on the run's Redis. The suite
// tells it to write, warm, watch (read a key in a tight loop until its value goes) or remove a
// key; it answers each request once, in order, with shared-clock times (ms since the epoch).

/** How long a warm-up may read before it gives up. */
const WARM_MS = 2_000

let subject: BusSubject | undefined
let watching: Promise<Watch> | undefined

function send(message: FromBusWorker): void {
  process.send?.(message)
}

const the = (): BusSubject => {
  if (!subject) throw new Error('no setup')
  return subject
}

async function handle(message: ToBusWorker): Promise<FromBusWorker> {
  switch (message.type) {
    case 'setup':
      subject = await busSubject(message.library, message.url, message.namespace)
      return { type: 'ready' }
    case 'clock':
      return { type: 'clock', at: epochMs() }
    case 'set':
      await the().set(message.key, markedValue(message.round), message.tag)
      return { type: 'done' }
    case 'warm': {
      const deadline = Date.now() + WARM_MS
      while (Date.now() < deadline) {
        if (isRound(await the().get(message.key), message.round)) {
          // Read once more: the value is in memory now (the first hit copied it up).
          return { type: 'warmed', ok: isRound(await the().get(message.key), message.round) }
        }
        await new Promise((resolve) => setTimeout(resolve, 1))
      }
      return { type: 'warmed', ok: false }
    }
    case 'watch': {
      const { armed, done } = await watch(the(), message.key, message.round, message.limitMs)
      watching = done
      return { type: 'armed', ok: armed }
    }
    case 'collect': {
      const done = watching
      watching = undefined
      if (!done) throw new Error('collect without watch')
      return { type: 'seen', watch: await done }
    }
    case 'remove': {
      const sentAt = epochMs()
      try {
        await the().remove(message.how, message.key, message.tag, message.acknowledge)
        return { type: 'removed', sentAt, returnedAt: epochMs() }
      } catch (error) {
        const text = error instanceof Error ? error.message : String(error)
        return { type: 'removed', sentAt, returnedAt: epochMs(), error: text }
      }
    }
    case 'check':
      return { type: 'checked', old: isRound(await the().get(message.key), message.round) }
    case 'close': {
      const closing = subject
      subject = undefined
      await closing?.close()
      return { type: 'closed' }
    }
  }
}

process.on('message', (message: ToBusWorker) => {
  handle(message).then(send, (error: unknown) => {
    send({ type: 'failed', message: error instanceof Error ? error.message : String(error) })
  })
})
// The suite disconnects when it is done: nothing else keeps this process alive.
process.on('disconnect', () => {
  process.exit(0)
})
