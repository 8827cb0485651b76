import type { Server } from 'bun'

/**
 * Stops a Bun server within a deadline: it stops listening at once, lets the requests in flight
 * finish for up to `graceMs`, then closes every connection — idle keep-alive ones too, which a
 * graceful stop alone would wait on until they time out.
 */
export async function stopGatewayServer(server: Server<unknown> | null | undefined, graceMs: number): Promise<void> {
  if (!server) return
  void server.stop(false)
  const until = Date.now() + graceMs
  while (server.pendingRequests > 0 && Date.now() < until) await Bun.sleep(10)
  await server.stop(true)
}
