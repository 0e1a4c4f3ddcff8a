// Loads the built package the way users do, through its own name and exports map, once as
// ESM (import) and once as CJS (require), and runs a cache in each.
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)

async function exercise(api, label) {
  assert.equal(typeof api.createCache, 'function', `${label}: createCache is exported`)
  assert.equal(typeof api.memoryLayer, 'function', `${label}: memoryLayer is exported`)
  const cache = api.createCache()
  let runs = 0
  const factory = async () => ++runs
  assert.equal(await cache.wrap('k', factory), 1)
  assert.equal(await cache.wrap('k', factory), 1)
  await assert.rejects(
    cache.get(''),
    (error) => error instanceof api.CacheError && error.code === 'E_INVALID_KEY',
  )
  await cache.close()
  console.log(`smoke: ${label} ok`)
}

function subpaths(redis, testing, label, decorators, http) {
  for (const name of ['cacheHeaders', 'withCache', 'createAdminHandler', 'toNodeHandler'])
    assert.equal(typeof http[name], 'function', `${label}: layercache/http exports ${name}`)
  for (const name of ['Cached', 'CachePut', 'InvalidateTags'])
    assert.equal(
      typeof decorators[name],
      'function',
      `${label}: layercache/decorators exports ${name}`,
    )
  for (const name of ['redisLayer', 'keyvLayer', 'Codec'])
    assert.equal(typeof redis[name], 'function', `${label}: layercache/redis exports ${name}`)
  for (const name of ['chaosLayer', 'runLayerSuite'])
    assert.equal(typeof testing[name], 'function', `${label}: layercache/testing exports ${name}`)
  console.log(`smoke: ${label} subpaths ok`)
}

/** Errors thrown by a subpath are the main entry's CacheError (one copy of the core per format). */
function sharedCore(core, redis, label) {
  let caught
  try {
    redis.redisLayer({ url: 5 })
  } catch (error) {
    caught = error
  }
  assert.ok(caught instanceof core.CacheError, `${label}: a layercache/redis error is a CacheError`)
  console.log(`smoke: ${label} shared core ok`)
}

await exercise(await import('layercache'), 'import')
await exercise(require('layercache'), 'require')
subpaths(
  await import('layercache/redis'),
  await import('layercache/testing'),
  'import',
  await import('layercache/decorators'),
  await import('layercache/http'),
)
subpaths(
  require('layercache/redis'),
  require('layercache/testing'),
  'require',
  require('layercache/decorators'),
  require('layercache/http'),
)
sharedCore(await import('layercache'), await import('layercache/redis'), 'import')
sharedCore(require('layercache'), require('layercache/redis'), 'require')
