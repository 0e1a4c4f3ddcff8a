// The dashboard on Express 5: the admin handler is mounted under /cache with app.use, the
// API routes are declared with Express's router and handed to the web handler through
// toNodeHandler(). No body parser on these routes: the web handler reads the body itself.
//   npm run serve:express
// In your application, import from 'layercache/http' instead.
import express, { type ErrorRequestHandler } from 'express'
import { toNodeHandler } from '../../src/http/index.js'
import { ADMIN_BASE_PATH, createDashboardApp } from '../dashboard/app.js'
import { announce, exitOnSignals, serverSettings } from '../dashboard/server-process.js'

const settings = serverSettings()
const dashboard = await createDashboardApp(settings.app)

const app = express()
app.disable('x-powered-by')

// toNodeHandler passes the handler's errors to next(), so Express's error handling applies.
const api = toNodeHandler(dashboard.handle)
app.get('/healthz', api)
app.get('/api/dashboard/:userId', api)
app.post('/api/dashboard/:userId/widgets', api)
app.use(ADMIN_BASE_PATH, toNodeHandler(dashboard.admin))

app.use((req, res) => {
  res
    .status(404)
    .json({ error: { code: 'E_NOT_FOUND', message: `no route for ${req.method} ${req.path}` } })
})
const onError: ErrorRequestHandler = (error, req, res, _next) => {
  console.error(`${req.method} ${req.originalUrl} failed:`, error)
  res.status(500).json({ error: { code: 'E_INTERNAL', message: 'internal error' } })
}
app.use(onError)

const server = app.listen(settings.port, settings.host, (error) => {
  if (error) throw error
  announce(server.address())
})

exitOnSignals(async () => {
  await new Promise<void>((resolve, reject) =>
    server.close((error) => (error ? reject(error) : resolve())),
  )
  await dashboard.close()
})
