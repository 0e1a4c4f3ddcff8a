// Adds lock entries for optional dependencies that the npm registry reachable here cannot serve
// (other platforms' binaries answer 404): npm then leaves them out of package-lock.json, and
// `npm ci` calls the lock out of sync. With an entry (version only, optional), `npm ci` accepts
// the lock and skips the package as an optional one. Idempotent; run after `npm install`.
import { readFileSync, writeFileSync } from 'node:fs'

const lock = JSON.parse(readFileSync('package-lock.json', 'utf8'))
const packages = lock.packages
let added = 0
for (const [path, meta] of Object.entries(packages)) {
  for (const [name, range] of Object.entries(meta.optionalDependencies ?? {})) {
    // Resolution as npm does it for a hoisted tree: next to the dependent, or at the top.
    const candidates = [`${path}/node_modules/${name}`, `node_modules/${name}`]
    if (candidates.some((c) => packages[c])) continue
    const version = String(range).replace(/^[~^=]/, '')
    packages[`node_modules/${name}`] = { version, optional: true }
    added++
  }
}
writeFileSync('package-lock.json', `${JSON.stringify(lock, null, 2)}\n`)
console.log(`added ${added} optional entries`)
