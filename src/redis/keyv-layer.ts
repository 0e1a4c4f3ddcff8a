import type Keyv from 'keyv'
import { describe, invalidOption } from '../core/errors.js'
import { checkObject } from '../core/validate.js'
import { KeyvByteStore } from './keyv-store.js'
import { RemoteLayer } from './remote-layer.js'
import {
  codecFor,
  nameOf,
  REMOTE_OPTION_KEYS,
  type RemoteLayerOptions,
  resilienceOf,
} from './remote-options.js'

/** Options of {@link keyvLayer}. */
export interface KeyvLayerOptions extends RemoteLayerOptions {
  /** Prepended to every key, before the namespace. Default ''. */
  prefix?: string
}

const OPTION_KEYS: ReadonlySet<string> = new Set([...REMOTE_OPTION_KEYS, 'prefix'])

/**
 * Any keyv store as a layer (`@keyv/postgres`, `@keyv/sqlite`, `@keyv/mongo`, ...). Values are
 * stored as msgpack Buffers in the versioned envelope, with the same timeouts and circuit
 * breaker as the Redis layer. The layer sets `throwOnErrors` on the Keyv so that store
 * failures reach it (keyv would otherwise answer `undefined` and hide an outage); it never
 * closes the Keyv. `clear()` needs a store that can iterate its keys.
 *
 * @example
 * import Keyv from 'keyv'; import KeyvPostgres from '@keyv/postgres'
 * const sql = new Keyv({ store: new KeyvPostgres({ uri: 'postgresql://localhost/app' }) })
 * createCache({ layers: [memoryLayer(), keyvLayer(sql, { name: 'sql', timeout: '250ms' })] })
 */
export function keyvLayer(
  keyv: Keyv,
  options: KeyvLayerOptions = {},
): RemoteLayer & { readonly keyv: Keyv } {
  checkObject(options, 'keyvLayer options', OPTION_KEYS)
  if (typeof keyv !== 'object' || keyv === null || typeof (keyv as Keyv).get !== 'function') {
    throw invalidOption('keyvLayer', `needs a Keyv instance, got ${describe(keyv)}`)
  }
  const name = nameOf(options, 'keyv', 'keyvLayer')
  const { prefix = '' } = options
  if (typeof prefix !== 'string')
    throw invalidOption('keyvLayer.prefix', `must be a string, got ${describe(prefix)}`)
  keyv.throwOnErrors = true
  const store = new KeyvByteStore(keyv)
  const layer = new RemoteLayer(
    name,
    store,
    codecFor(options, 'keyvLayer'),
    prefix,
    resilienceOf(options),
  )
  return Object.assign(layer, { keyv })
}
