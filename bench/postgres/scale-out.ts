import { RedisClient } from 'bun'
import { spawnMaster, type MasterProcess } from '../../test/support/master-process'
import { closedLoop, type LoadResult } from '../http-load'
import { round, workload, type Request } from '../workload'
import { busyWhile } from './busy'
import { stopMaster } from './ingest'
import type { BenchServer } from './server'

export interface ScaleOutRun {
  masters: number
  redis: boolean
  nodeSnapshots: number
  errors: number
  seconds: number
  ackPerSecond: number
  /** the whole machine's busy share of its cores during the timed phase, %: how much room the run left */
  machineBusyPercent: number
}

export interface ScaleOutFigures {
  nodes: number
  nodesPerSnapshot: number
  concurrency: number
  ingestThreadsPerMaster: number
  /** every run, in the order run */
  runs: ScaleOutRun[]
  /** the best run of each line */
  oneMaster: number
  twoMasters: number
  oneMasterWithoutRedis: number
  /** twoMasters / oneMaster */
  ratio: number
}

/**
 * Two masters against one, on one PostgreSQL and one Redis: the same prepared agent posts (a
 * warm-up round, then the timed rounds), in a closed loop with the same concurrency, sent to one
 * master, or split between two by cluster (half the clusters to each, half the concurrency each),
 * as a load balancer that keeps an agent on its master would. Every master runs one ingest thread
 * (INGEST_THREADS=1, the default on a 2-core machine anyway), so both lines are the same machine
 * doing the same work. A third line is one master without Redis (its own DataHub state), what
 * sharing the state costs. Each line runs `repeat` times, interleaved, on a fresh database and an
 * emptied Redis; the best run of each counts.
 */
export async function scaleOut(
  server: BenchServer,
  redisUrl: string,
  options: { nodes: number; nodesPerSnapshot: number; timedNodes: number; repeat: number },
  log: (line: string) => void,
): Promise<ScaleOutFigures> {
  const load = workload(options.nodes, options.nodesPerSnapshot, 'so-')
  const rounds = Math.max(1, Math.ceil(options.timedNodes / load.nodeCount))
  const base = Date.now() - 20 * 60_000
  const warm = round(load, base)
  const timed = Array.from({ length: rounds }, (_, r) => round(load, base + (r + 1) * 1000)).flat()
  const concurrency = Math.min(load.clusters.length, 32)
  log(`two masters against one: ${load.nodeCount} nodes, ${options.nodesPerSnapshot} per snapshot, ${rounds} timed rounds, ${concurrency} agents at once`)

  const runs: ScaleOutRun[] = []
  let runNumber = 0
  const measure = async (masters: number, redis: boolean) => {
    const redisClient = new RedisClient(redisUrl)
    await redisClient.send('FLUSHALL', [])
    redisClient.close()
    const env = {
      DATABASE_URL: await server.database(`scale_out_${++runNumber}`),
      INGEST_THREADS: '1',
      ...(redis ? { REDIS_URL: redisUrl } : {}),
    }
    const started: MasterProcess[] = await Promise.all(Array.from({ length: masters }, () => spawnMaster(env)))
    try {
      // Cluster i's agent posts to master i mod masters, always the same one.
      const share = (requests: Request[], m: number) => requests.filter((request) => clusterIndex.get(request.clusterId)! % masters === m)
      const loop = (requests: Request[]) =>
        Promise.all(started.map((master, m) => closedLoop(master.ingest, share(requests, m), Math.max(1, Math.round(concurrency / masters)))))
      const warmResults = await loop(warm)
      const begun = performance.now()
      const { result: results, busyPercent } = await busyWhile(() => loop(timed))
      const seconds = (performance.now() - begun) / 1000
      const total = (list: LoadResult[], key: 'acknowledgedNodes' | 'errors') => list.reduce((sum, result) => sum + result[key], 0)
      const errors = total(warmResults, 'errors') + total(results, 'errors')
      const lastError = [...results, ...warmResults].find((result) => result.lastError)?.lastError
      const run: ScaleOutRun = {
        masters, redis, nodeSnapshots: total(results, 'acknowledgedNodes'), errors,
        seconds: Number(seconds.toFixed(2)), ackPerSecond: Math.round(total(results, 'acknowledgedNodes') / seconds),
        machineBusyPercent: busyPercent,
      }
      runs.push(run)
      log(`  ${masters} master${masters > 1 ? 's' : ''}${redis ? ' + Redis' : ', no Redis'}: ${run.ackPerSecond} node-snapshots/s, machine ${run.machineBusyPercent} % busy${errors ? `; errors ${errors} (last: ${lastError})` : ''}`)
    } finally {
      await Promise.all(started.map(stopMaster))
      await server.drop(env.DATABASE_URL)
    }
  }
  const clusterIndex = new Map(load.clusters.map((cluster, index) => [cluster.clusterId, index]))

  for (let r = 0; r < options.repeat; r++) {
    await measure(1, true)
    await measure(2, true)
    await measure(1, false)
  }
  const best = (masters: number, redis: boolean) => Math.max(...runs.filter((run) => run.masters === masters && run.redis === redis).map((run) => run.ackPerSecond))
  const oneMaster = best(1, true)
  const twoMasters = best(2, true)
  return {
    nodes: load.nodeCount, nodesPerSnapshot: options.nodesPerSnapshot, concurrency, ingestThreadsPerMaster: 1, runs,
    oneMaster, twoMasters, oneMasterWithoutRedis: best(1, false), ratio: Number((twoMasters / oneMaster).toFixed(2)),
  }
}
