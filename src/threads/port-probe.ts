/**
 * Throws `cannot listen on host:port (VARIABLE): …` when a socket already listens on the port.
 * The servers bind with SO_REUSEPORT (Elysia's default, and how the ingest threads share their
 * port), and with it a second master run by the same user would share the port silently — taking
 * a share of the agents — instead of failing to start. A bind without it fails on any listener, so
 * it goes first. Port 0 needs no probe: the kernel never picks a port that is in use.
 */
export function probePort(host: string, port: number, variable?: string): void {
  if (port === 0) return
  try {
    // Bun.serve takes an IPv6 address in brackets, Bun.listen only without.
    Bun.listen({ hostname: host.replace(/^\[(.*)\]$/, '$1'), port, socket: { data() {} } }).stop(true)
  } catch (error) {
    throw new Error(`cannot listen on ${host}:${port}${variable ? ` (${variable})` : ''}: ${(error as Error).message}`)
  }
}
