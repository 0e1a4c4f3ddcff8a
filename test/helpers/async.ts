import { deferred } from './map-layer.js'

/** Lets every settled promise run its continuations (no real time passes). */
export async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise<void>((resolve) => setImmediate(resolve))
}

/** Follows a promise without awaiting it, to assert whether it has settled yet. */
export function track<T>(promise: Promise<T>) {
  const state = { done: false, value: undefined as T | undefined, error: undefined as unknown }
  promise.then(
    (value) => {
      state.done = true
      state.value = value
    },
    (error: unknown) => {
      state.done = true
      state.error = error
    },
  )
  return state
}

/** A factory whose answer the test gives (`factory.gate.resolve(...)`), counting its runs. */
export function gatedFactory() {
  const gate = deferred<string>()
  const factory = Object.assign(
    (): Promise<string> => {
      factory.runs++
      return gate.promise
    },
    { runs: 0, gate },
  )
  return factory
}
