export { ChaosLayer, type ChaosMode, type ChaosOptions, chaosLayer } from './chaos-layer.js'
export { type LayerSuiteOptions, runLayerSuite, type SuiteRunner } from './layer-suite.js'
export { type ManualClock, manualClock } from './manual-clock.js'
export { MemoryBus, type MemoryBusHub, memoryBusHub } from './memory-bus.js'
