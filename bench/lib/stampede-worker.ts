import {
  burst,
  type FromWorker,
  type StampedeSubject,
  stampedeContenders,
  type ToWorker,
  waitUntil,
} from './stampede.js'

// One of the two processes of the stampede-2x500 scenario, forked by suites/stampede.ts (run
// through tsx) with an IPC channel. It sets up one contender at a time on the run's Redis and
// fires a burst of calls on the key it is given, at the instant it is given (a clock both
// processes share), then reports its factory runs and timings back.

let subject: StampedeSubject | undefined

function send(message: FromWorker): void {
  process.send?.(message)
}

async function handle(message: ToWorker): Promise<void> {
  switch (message.type) {
    case 'setup': {
      const contender = stampedeContenders.find((c) => c.name === message.contender)
      try {
        if (!contender) throw new Error(`unknown contender ${message.contender}`)
        subject = await contender.setup(message.url)
        send({ type: 'ready' })
      } catch (error) {
        send({ type: 'failed', message: error instanceof Error ? error.message : String(error) })
      }
      return
    }
    case 'burst': {
      if (!subject) throw new Error('burst before setup')
      await waitUntil(message.at)
      send({ type: 'burst', burst: await burst(subject, message.key, message.calls) })
      return
    }
    case 'close': {
      const closing = subject
      subject = undefined
      await closing?.close()
      send({ type: 'closed' })
      return
    }
  }
}

process.on('message', (message: ToWorker) => {
  handle(message).catch((error: unknown) => {
    send({ type: 'failed', message: error instanceof Error ? error.message : String(error) })
  })
})
// The suite disconnects when it is done: nothing else keeps this process alive.
process.on('disconnect', () => {
  process.exit(0)
})
