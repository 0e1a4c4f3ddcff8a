import { describe, expect, it } from 'vitest'
import { Deadlines, type Timed } from '../../src/layers/deadlines.js'

function call(log: string[], name: string): Timed {
  return {
    done: false,
    timedOut() {
      log.push(`${name} at ${Math.round(performance.now() - started)}`)
    },
  }
}
let started = 0

describe('Deadlines', () => {
  it('times out the calls still pending, never before the timeout; settled ones never', async () => {
    const deadlines = new Deadlines(40)
    const log: string[] = []
    started = performance.now()
    const a = call(log, 'a')
    const b = call(log, 'b')
    deadlines.add(a)
    deadlines.add(b)
    expect(deadlines.settle(a)).toBe(true)
    expect(deadlines.settle(a)).toBe(false) // once
    await new Promise((resolve) => setTimeout(resolve, 120))
    expect(log).toHaveLength(1)
    expect(log[0]).toMatch(/^b at /)
    const at = Number(log[0]!.split(' at ')[1])
    expect(at).toBeGreaterThanOrEqual(39) // not early (timer granularity aside)
    expect(deadlines.settle(b)).toBe(false) // its timeout answered first
  })

  it('lets a settled call go at once: its bucket no longer holds it', () => {
    const deadlines = new Deadlines(1_000)
    const a = call([], 'a')
    deadlines.add(a)
    const bucket = a.bucket as { pending: Set<Timed> }
    expect(bucket.pending.has(a)).toBe(true)
    deadlines.settle(a)
    expect(bucket.pending.has(a)).toBe(false)
    expect(a.bucket).toBeUndefined()
  })
})
