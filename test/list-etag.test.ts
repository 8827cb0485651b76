import { expect, setDefaultTimeout, test } from 'bun:test'
import { postSnapshot, useMaster } from './support/master'
import { clusterSnapshot, nodeSnapshot } from './support/snapshots'

// Real servers, Workers and processes: bun's 5 s per test is too short on a busy CI machine.
setDefaultTimeout(30_000)

/** A dashboard polling an unchanged node list is answered 304 with no body, as browsers revalidate. */
const master = useMaster()

test('the node lists carry an ETag; If-None-Match gets 304 until the cluster changes', async () => {
  const t0 = Date.now() - 5_000
  expect((await postSnapshot(master.ingest, clusterSnapshot('c', [nodeSnapshot('a', t0)]), { clusterId: 'c' })).status).toBe(200)
  for (const path of ['/api/v2/clusters/c/node-metrics', '/api/v2/node-metrics?cluster_id=c']) {
    const first = await fetch(`${master.api}${path}`)
    let etag = first.headers.get('etag')!
    expect(etag).toMatch(/^W\/".+"$/)
    expect(first.headers.get('cache-control')).toBe('no-cache')
    await first.arrayBuffer()
    // The DataHub's word about the commit can come after the first answer: the tag may move once.
    let again = await fetch(`${master.api}${path}`, { headers: { 'if-none-match': etag } })
    for (let tries = 0; again.status === 200 && tries < 20; tries++) {
      etag = again.headers.get('etag')!
      await again.arrayBuffer()
      await Bun.sleep(20)
      again = await fetch(`${master.api}${path}`, { headers: { 'if-none-match': etag } })
    }
    expect(again.status).toBe(304)
    expect(await again.text()).toBe('')
    expect(again.headers.get('etag')).toBe(etag)
    expect((await fetch(`${master.api}${path}`, { headers: { 'if-none-match': 'W/"other"' } })).status).toBe(200)
  }
  const etags = await Promise.all(['/api/v2/clusters/c/node-metrics', '/api/v2/node-metrics?cluster_id=c']
    .map(async (path) => (await fetch(`${master.api}${path}`)).headers.get('etag')!))
  expect(etags[0]).not.toBe(etags[1]) // two shapes, two tags

  expect((await postSnapshot(master.ingest, clusterSnapshot('c', [nodeSnapshot('a', t0 + 1_000, { cpu: 90 })]), { clusterId: 'c' })).status).toBe(200)
  const changed = await fetch(`${master.api}/api/v2/clusters/c/node-metrics`, { headers: { 'if-none-match': etags[0]! } })
  expect(changed.status).toBe(200)
  expect(((await changed.json()) as any).node_figures.a.cpu_usage).toBe(90)
})

