export { type ManualClock, manualClock } from '../../src/testing/manual-clock.js'
