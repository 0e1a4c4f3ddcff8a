import { describe, it } from 'vitest'
import { memoryLayer, resilient } from '../../src/index.js'
import { runLayerSuite } from '../../src/testing/index.js'
import { MapLayer } from '../helpers/map-layer.js'

runLayerSuite({ name: 'memory', create: () => memoryLayer({ maxBytes: '64mb' }), describe, it })

// One store shared by every layer the suite creates, as a real shared store would be.
const shared = new Map()
runLayerSuite({
  name: 'resilient(map)',
  create: () => resilient(new MapLayer('map', shared)),
  describe,
  it,
})
