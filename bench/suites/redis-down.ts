import { measure } from '../lib/measure.js'
import {
  type Fault,
  formatMs,
  medianOfNext,
  type OutageContender,
  type OutageResult,
  recover,
  runOutage,
} from '../lib/outage.js'
import {
  bentocacheRedis,
  cacheableRedis,
  cacheManagerRedis,
  dropKeyvRedis,
  layercacheRedis,
  redisServer,
  REDIS_TIMEOUT_MS as TIMEOUT_MS,
} from '../lib/redis.js'
import { formatNs, printTable } from '../lib/report.js'
import { countingFactory, type Probe, type ProbeResult, type Suite } from '../lib/suite.js'

// Every contender has a memory layer over Redis, set up while Redis runs. Then Redis is killed
// (SIGKILL: connections refused) or frozen (SIGSTOP: connections open, nothing answers), and
// the contender makes COLD_CALLS get-or-set calls on keys it has never seen, one after the
// other. Each call is abandoned after 5 s; a contender whose call hangs makes no more calls.

const COLD_CALLS = 10

/** layercache's L1 hit while Redis is down, by fault, for the figures. */
const l1HitNs: Partial<Record<Fault, number>> = {}

const contenders: OutageContender[] = [
  {
    name: 'layercache wrap',
    async setup() {
      const { cache, layer } = await layercacheRedis('down', true)
      return {
        wrap: (key, factory) => cache.wrap(key, factory),
        async whileDown(fault, warmKey) {
          const { state, failures, skipped } = layer.health()
          const { factory, calls } = countingFactory(undefined)
          const hit = await measure('L1 hit', () => cache.wrap(warmKey, factory), {
            iterations: 200_000,
            rounds: 5,
            roundMs: 20,
          })
          l1HitNs[fault] = hit.nsPerOp
          return [
            `circuit ${state} after ${failures} consecutive failures, ${skipped} calls skipped`,
            `L1 hit (wrap of a key written before the fault): ${formatNs(hit.nsPerOp)} ns`,
            ...(calls() > 0 ? [`WARNING the factory ran ${calls()} times: not all were hits`] : []),
          ]
        },
        // Waits for background writes (each bounded by the layer's timeout), destroys the client.
        close: () => cache.close(),
      }
    },
  },
  {
    name: 'bentocache getOrSet (L1 + L2)',
    async setup() {
      const bento = await bentocacheRedis(true)
      return {
        wrap: (key, factory) => bento.getOrSet({ key, factory }),
        // ioredis' disconnect() drops the connection and rejects queued commands at once.
        close: () => bento.disconnectAll(),
      }
    },
  },
  {
    name: 'cache-manager wrap (memory + redis stores)',
    async setup() {
      const { cache, store } = await cacheManagerRedis(true)
      return {
        wrap: (key, factory) => cache.wrap(key, factory),
        close: async () => {
          dropKeyvRedis(store)
          await cache.disconnect()
        },
      }
    },
  },
  {
    name: 'cacheable getOrSet (memory primary + redis secondary)',
    async setup() {
      const { cache, store } = await cacheableRedis(true)
      return {
        wrap: (key, factory) => cache.getOrSet(key, factory),
        close: async () => {
          dropKeyvRedis(store)
          await cache.disconnect()
        },
      }
    },
  },
]

function report(results: readonly OutageResult[], stray: readonly string[]): void {
  const header = [
    'contender',
    'Redis',
    'first cold call',
    `median of next ${COLD_CALLS - 1}`,
    `slowest of next ${COLD_CALLS - 1}`,
    `calls >= ${TIMEOUT_MS * 0.9} ms`,
    'threw',
  ]
  const rows = results.map(({ name, fault, ms, threw }) => {
    const next = ms.slice(1)
    const hung = ms.includes(undefined)
    const slowest = next.length === 0 ? '-' : formatMs(Math.max(...(next as number[])))
    return [
      name,
      fault,
      formatMs(ms[0]),
      hung ? (ms.length > 1 ? 'hung' : 'not run') : formatMs(medianOfNext(ms)),
      hung ? (ms.length > 1 ? 'hung' : 'not run') : slowest,
      hung ? '-' : String(ms.filter((m) => m! >= TIMEOUT_MS * 0.9).length),
      threw !== undefined ? `yes: ${threw.slice(0, 60)}` : hung && ms.length === 1 ? '-' : 'no',
    ]
  })
  printTable(header, rows)
  for (const { name, fault, lines } of results)
    for (const line of lines) console.log(`- ${name}, Redis ${fault}: ${line}`)
  for (const line of stray) console.log(`WARNING unhandled rejection: ${line}`)
}

async function run(): Promise<ProbeResult> {
  const server = await redisServer()
  const results: OutageResult[] = []
  const stray: string[] = []
  let current = ''
  const onStray = (reason: unknown) =>
    stray.push(`${current}: ${reason instanceof Error ? reason.message : String(reason)}`)
  process.on('unhandledRejection', onStray)
  const started = Date.now()
  try {
    for (const fault of ['killed', 'frozen'] as const) {
      for (const [i, contender] of contenders.entries()) {
        current = `${contender.name}, Redis ${fault}`
        try {
          results.push(await runOutage(server, contender, fault, COLD_CALLS, `c${i}`))
        } finally {
          await recover(server, fault)
        }
      }
    }
  } finally {
    process.off('unhandledRejection', onStray)
  }
  console.log(`\n### Redis down: cold get-or-set calls with memory over Redis [redis-down]`)
  console.log(
    `${COLD_CALLS} cold calls per contender (distinct keys, factory returns at once), one at a time, each abandoned after 5 s; layercache's Redis timeout ${TIMEOUT_MS} ms; ${((Date.now() - started) / 1000).toFixed(1)} s in all\n`,
  )
  report(results, stray)
  const layercache = (fault: Fault) =>
    results.find((r) => r.fault === fault && r.name.startsWith('layercache'))
  const figures: ProbeResult['figures'] = {}
  for (const fault of ['killed', 'frozen'] as const) {
    const found = layercache(fault)
    figures[`${fault} first`] = found?.ms[0]
    figures[`${fault} next`] = found ? medianOfNext(found.ms) : undefined
    figures[`${fault} l1`] = l1HitNs[fault]
  }
  return { id: 'redis-down', figures }
}

/** Cold get-or-set calls of memory-over-Redis caches while Redis is killed, then frozen. */
export const redisDown: Suite = {
  name: 'redis-down',
  scenarios: (): Probe[] => [{ id: 'redis-down', title: 'Redis down: cold get-or-set calls', run }],
}
