/**
 * One agent request as the wire format has it (docs/design.md §3): a gzipped ClusterSnapshot with
 * X-Cluster-ID and, where agent tokens are in force, a bearer token. The agent, the simulator
 * and the benchmark all send through here.
 */
export function sendSnapshot(
  master: string,
  clusterId: string,
  gzippedBody: Uint8Array,
  options: { token?: string; signal?: AbortSignal } = {},
): Promise<Response> {
  return fetch(`${master.replace(/\/$/, '')}/agent/snapshot`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'content-encoding': 'gzip',
      'x-cluster-id': clusterId,
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
    },
    body: gzippedBody,
    signal: options.signal,
  })
}
