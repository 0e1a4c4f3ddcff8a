// The dashboard on plain `node:http`: toNodeHandler() turns each web handler into a
// (req, res) listener. Memory only, or memory over Redis with the bus when REDIS_URL is set:
//   npm run serve:node
// In your application, import from 'layercache/http' instead.
import { createServer } from 'node:http'
import { toNodeHandler } from '../../src/http/index.js'
import { ADMIN_BASE_PATH, createDashboardApp } from '../dashboard/app.js'
import { announce, exitOnSignals, serverSettings } from '../dashboard/server-process.js'

const settings = serverSettings()
const dashboard = await createDashboardApp(settings.app)

const api = toNodeHandler(dashboard.handle)
const admin = toNodeHandler(dashboard.admin)
const isAdmin = (url = '/') => url === ADMIN_BASE_PATH || url.startsWith(`${ADMIN_BASE_PATH}/`)

const server = createServer((req, res) => (isAdmin(req.url) ? admin : api)(req, res))
server.listen(settings.port, settings.host, () => announce(server.address()))

exitOnSignals(async () => {
  await new Promise<void>((resolve, reject) =>
    server.close((error) => (error ? reject(error) : resolve())),
  )
  await dashboard.close()
})
