// The dashboard on Hono, served by @hono/node-server: Hono hands each route the web Request
// (c.req.raw), and the web Response goes back as it is.
//   npm run serve:hono
// In your application, import from 'layercache/http' instead.
import { serve } from '@hono/node-server'
import { Hono } from 'hono'
import { ADMIN_BASE_PATH, createDashboardApp } from '../dashboard/app.js'
import { announce, exitOnSignals, serverSettings } from '../dashboard/server-process.js'

const settings = serverSettings()
const dashboard = await createDashboardApp(settings.app)

const app = new Hono()
app.get('/healthz', (c) => dashboard.handle(c.req.raw))
app.get('/api/dashboard/:userId', (c) => dashboard.handle(c.req.raw))
app.post('/api/dashboard/:userId/widgets', (c) => dashboard.handle(c.req.raw))
app.all(`${ADMIN_BASE_PATH}/*`, (c) => dashboard.admin(c.req.raw))

const server = serve({ fetch: app.fetch, port: settings.port, hostname: settings.host }, announce)

exitOnSignals(async () => {
  await new Promise<void>((resolve, reject) =>
    server.close((error) => (error ? reject(error) : resolve())),
  )
  await dashboard.close()
})
