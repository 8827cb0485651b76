import type { Config } from './config/config'
import { DataHub } from './datahub/datahub'
import { gatewayApp } from './gateway/app'
import { openReadConnection } from './storage/connection'
import { MetricsReader } from './storage/metrics-reader'
import type { IngestToHub } from './messages/ingest'
import { IngestThread } from './threads/ingest-thread'
import { WriterThread } from './threads/writer-thread'
import { historyTiers } from './storage/tiers'
import { FleetStatus } from './metrics/status'
import { PrometheusMetrics } from './metrics/prometheus'

export interface Master {
  gatewayPort: number
  ingestPort: number
  hub: DataHub
  writer: WriterThread
  /** Fault injection for the tests: the ingest thread throws, as a bug would make it. */
  injectIngestCrash(): void
  /** Stops accepting, answers what is in flight, drains the writer and closes the database. */
  stop(): Promise<void>
}

/**
 * Starts the three threads in dependency order: the writer (it creates the database), then the
 * query side that reads it, then the ingest port that feeds it.
 */
export async function startMaster(config: Config): Promise<Master> {
  let hub: DataHub | undefined
  let ingest: IngestThread | undefined
  let metrics: PrometheusMetrics | undefined
  let firstReady!: { resolve: () => void; reject: (error: Error) => void }
  const writerReady = new Promise<void>((resolve, reject) => (firstReady = { resolve, reject }))
  let started = false
  let boundIngestPort: number | undefined

  const writer = new WriterThread(
    {
      dbPath: config.dbPath,
      sampleIntervalMs: config.sampleIntervalMs,
      retentionMs: config.retentionMs,
      retentionHourlyMs: config.retentionHourlyMs,
      cleanupIntervalMs: config.cleanupIntervalMs,
      netExclude: config.netExclude,
    },
    {
      message: (message) => {
        if (message.type === 'committed') metrics?.committed(message.rows, message.ms)
        if (message.type === 'cleaned') metrics?.cleaned(message.points, message.nodes)
        hub?.onWriter(message)
      },
      ready: (restarted) => {
        if (restarted) {
          console.warn('writer restarted; re-sending the newest node metrics')
          hub?.onWriterRestarted()
        }
        firstReady.resolve()
      },
      down: (reason) => {
        console.error(reason)
        if (!started) return firstReady.reject(new Error(reason))
        hub?.onWriterDown()
      },
    },
  )
  writer.start()
  try {
    await writerReady
  } catch (error) {
    await writer.close()
    throw error
  }

  const reader = new MetricsReader(openReadConnection(config.dbPath))
  hub = new DataHub(
    {
      toIngest: (message) => ingest?.send(message),
      toWriter: (message) => writer.post(message),
    },
    { writeQueueLimit: config.writeQueueLimit, accept: { netExclude: new RegExp(config.netExclude) } },
  )
  const status = new FleetStatus(hub, { staleAfterMs: config.staleAfterMs, agentExpireMs: config.agentExpireMs })
  metrics = new PrometheusMetrics({ reader, status, dbPath: config.dbPath, writeQueueRows: () => hub!.writeQueueRows })
  const gateway = gatewayApp({
    reader,
    status,
    metrics: () => metrics!.render(),
    knownClusters: function* () {
      for (const [clusterId, state] of hub!.allClusters()) {
        yield [clusterId, { snapshotAt: state.snapshot?.receivedAt, heartbeatAt: state.lastHeartbeat }]
      }
    },
    tiers: historyTiers(config),
    dataVersion: (clusterId) => hub!.dataVersion(clusterId),
    apiTokens: config.apiTokens,
    corsOrigins: config.corsOrigins,
    ingestUrl: () => `http://${config.host.includes(':') ? `[${config.host.replace(/^\[|\]$/g, '')}]` : config.host}:${boundIngestPort ?? config.ingestPort}`,
    health: () => ({ status: writer.isUp ? 'ok' : 'degraded', writer: writer.isUp ? 'up' : 'down', clusters: hub!.clusterCount }),
  })

  try {
    // development: false — an error that escapes a handler gets a bare 500, never Bun's page with source and paths.
    gateway.listen({ hostname: config.host, port: config.port, development: false })
    const ingestSettings = {
      host: config.host,
      port: config.ingestPort,
      maxBodyBytes: config.maxBodyBytes,
      maxInflightBytes: config.maxInflightBytes,
      maxClockSkewMs: config.maxClockSkewMs,
      agentTokens: [...config.agentTokens],
      agentNetworks: config.agentNetworks,
      netExclude: config.netExclude,
    }
    const onIngestMessage = (message: IngestToHub) => {
      if (message.type === 'snapshot') metrics!.snapshotReceived()
      if (message.type === 'rejections') metrics!.rejections(message.counts)
      if (message.type === 'dropped') metrics!.dropped(message.counts)
      hub!.onIngest(message)
    }
    // A dead ingest thread would leave agents with a closed port: start another on the same port.
    // Requests it had in flight are lost with it (agents retry); their answers go nowhere.
    const restartIngest = async (reason: string): Promise<void> => {
      console.error(`${reason}; restarting the ingest thread`)
      for (let attempt = 0; !stopped; attempt++) {
        const next = new IngestThread()
        try {
          await next.start({ ...ingestSettings, port: ingestPort }, onIngestMessage, restartIngest)
          ingest = next
          return
        } catch (error) {
          next.terminate()
          console.error(`ingest restart failed: ${(error as Error).message}`)
          await Bun.sleep(Math.min(100 * 2 ** attempt, 5_000))
        }
      }
    }
    let stopped = false
    ingest = new IngestThread()
    const ingestPort = await ingest.start(ingestSettings, onIngestMessage, restartIngest)
    boundIngestPort = ingestPort
    started = true
    return {
      gatewayPort: gateway.server!.port!,
      ingestPort,
      hub,
      writer,
      injectIngestCrash: () => ingest!.send({ type: 'crash' }),
      stop: async () => {
        stopped = true
        await ingest!.stop()
        await gateway.stop()
        // The writer closes last: the last connection to close removes the -wal and -shm files.
        reader.close()
        await writer.close()
      },
    }
  } catch (error) {
    ingest?.terminate()
    await gateway.stop()
    await writer.close()
    reader.close()
    throw error
  }
}
