import { postSnapshot } from './master'
import { clusterSnapshot, nodeSnapshot } from './snapshots'

/**
 * An agent behind a load balancer: it posts a cluster's snapshots, each newer than the last, to
 * the master it is on, and when that master is gone or refuses (a connection error, a 5xx) it sends
 * the same snapshot again to the next one, until one answers 200. So every snapshot it made is
 * acknowledged once it stops, and the store must hold each exactly once.
 */
export function failoverAgent(clusterId: string, nodeNames: string[], ingests: () => string[], firstTimestamp: number, stepMs: number) {
  let running = true
  let on = 0
  /** timestamps of the snapshots made, in order; every one was acknowledged by the time `stop` resolves */
  const sent: number[] = []
  /** which master acknowledged each (its index in `ingests()`) */
  const acknowledgedBy: number[] = []
  /** when each was acknowledged (performance.now()) */
  const acknowledgedAt: number[] = []
  /** what each refusal was: a status and its Retry-After, or the connection error */
  const refusals: { at: number; what: string }[] = []
  const cpuOf = (ts: number, node: number) => ((ts / stepMs) * 7 + node * 13) % 100
  const loop = (async () => {
    for (let ts = firstTimestamp; running; ts += stepMs) {
      const body = clusterSnapshot(clusterId, nodeNames.map((name, index) => nodeSnapshot(name, ts, { cpu: cpuOf(ts, index) })))
      for (;;) {
        const targets = ingests()
        try {
          const response = await postSnapshot(targets[on % targets.length]!, body, { clusterId })
          await response.arrayBuffer()
          if (response.status === 200) break
          refusals.push({ at: performance.now(), what: `${response.status} retry-after=${response.headers.get('retry-after')}` })
        } catch (error) {
          refusals.push({ at: performance.now(), what: (error as { code?: string }).code ?? String(error) })
        }
        on++
        await Bun.sleep(20)
      }
      sent.push(ts)
      acknowledgedAt.push(performance.now())
      acknowledgedBy.push(on % ingests().length)
    }
  })()
  return {
    sent,
    acknowledgedBy,
    acknowledgedAt,
    refusals,
    cpuOf,
    /** the master the agent posts to now (its index) */
    get on() {
      return on % ingests().length
    },
    async stop() {
      running = false
      await loop
    },
  }
}
