import { sendSnapshot } from '../src/agent/send'
import type { Request } from './workload'

export interface LoadResult {
  acknowledgedNodes: number
  requests: number
  errors: number
  seconds: number
  lastError?: string
}

export function post(ingest: string, request: Request): Promise<Response> {
  return sendSnapshot(ingest, request.clusterId, request.body)
}

/**
 * Sends every request, `concurrency` at a time, as fast as they are answered. `send` and `ok`
 * are the master's agent post and its 200 unless a peer (bench/peer/) is measured.
 */
export async function closedLoop<R extends Request>(
  ingest: string,
  requests: R[],
  concurrency: number,
  send: (target: string, request: R) => Promise<Response> = post,
  ok = 200,
): Promise<LoadResult> {
  let next = 0
  const result: LoadResult = { acknowledgedNodes: 0, requests: 0, errors: 0, seconds: 0 }
  const started = performance.now()
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < requests.length) {
        const request = requests[next++]!
        result.requests++
        try {
          const response = await send(ingest, request)
          const text = await response.text()
          if (response.status === ok) result.acknowledgedNodes += request.nodes
          else {
            result.errors++
            result.lastError = `${response.status} ${text.slice(0, 100)}`
          }
        } catch (error) {
          result.errors++
          result.lastError = (error as Error).message
        }
      }
    }),
  )
  result.seconds = (performance.now() - started) / 1000
  return result
}

/** Sends requests at a steady `nodesPerSecond` until stopped; returns what it achieved. */
export function paced(ingest: string, makeRound: (index: number) => Request[], nodesPerSecond: number) {
  let running = true
  const result: LoadResult = { acknowledgedNodes: 0, requests: 0, errors: 0, seconds: 0 }
  const started = performance.now()
  const loop = (async () => {
    let sentNodes = 0
    for (let index = 0; running; index++) {
      for (const request of makeRound(index)) {
        if (!running) break
        const due = started + (sentNodes / nodesPerSecond) * 1000
        if (due > performance.now()) await Bun.sleep(due - performance.now())
        sentNodes += request.nodes
        result.requests++
        post(ingest, request)
          .then(async (response) => {
            await response.arrayBuffer()
            if (response.status === 200) result.acknowledgedNodes += request.nodes
            else result.errors++
          })
          .catch(() => result.errors++)
      }
    }
  })()
  return {
    stop: async () => {
      running = false
      await loop
      result.seconds = (performance.now() - started) / 1000
      return result
    },
  }
}
