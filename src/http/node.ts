// Stub: being written by the admin helper (see .work-spec-http.md).
export interface NodeHandlerOptions {
  maxBodyBytes?: number
}
export function toNodeHandler(
  _handler: (request: Request) => Promise<Response>,
  _options?: NodeHandlerOptions,
): (req: unknown, res: unknown, next?: (error?: unknown) => void) => void {
  throw new Error('todo')
}
