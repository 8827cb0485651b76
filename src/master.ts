import type { Config } from './config/config'
import { DataHub } from './datahub/datahub'
import { gatewayApp } from './gateway/app'
import type { HubToIngest, IngestToHub } from './messages/ingest'
import { openReadConnection } from './storage/connection'
import { MetricsReader } from './storage/metrics-reader'
import { WriterThread } from './threads/writer-thread'

const INGEST_WORKER_URL = new URL('../workers/ingest.ts', import.meta.url)

export interface Master {
  gatewayPort: number
  ingestPort: number
  hub: DataHub
  writer: WriterThread
  /** Stops accepting, answers what is in flight, drains the writer and closes the database. */
  stop(): Promise<void>
}

/**
 * Starts the three threads in dependency order: the writer (it creates the database), then the
 * query side that reads it, then the ingest port that feeds it.
 */
export async function startMaster(config: Config): Promise<Master> {
  let hub: DataHub | undefined
  let ingest: Worker | undefined
  let firstReady!: { resolve: () => void; reject: (error: Error) => void }
  const writerReady = new Promise<void>((resolve, reject) => (firstReady = { resolve, reject }))
  let started = false

  const writer = new WriterThread(
    {
      dbPath: config.dbPath,
      sampleIntervalMs: config.sampleIntervalMs,
      retentionMs: config.retentionMs,
      cleanupIntervalMs: config.cleanupIntervalMs,
    },
    {
      message: (message) => hub?.onWriter(message),
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
      toIngest: (message) => ingest?.postMessage(message),
      toWriter: (message) => writer.post(message),
    },
    { writeQueueLimit: config.writeQueueLimit },
  )
  const gateway = gatewayApp({
    reader,
    apiTokens: config.apiTokens,
    health: () => ({ status: writer.isUp ? 'ok' : 'degraded', writer: writer.isUp ? 'up' : 'down', clusters: hub!.clusterCount }),
  })

  try {
    gateway.listen({ hostname: config.host, port: config.port })
    ingest = new Worker(INGEST_WORKER_URL.href)
    const ingestPort = await startIngest(ingest, hub, config)
    started = true
    return {
      gatewayPort: gateway.server!.port!,
      ingestPort,
      hub,
      writer,
      stop: async () => {
        await stopIngest(ingest!)
        await gateway.stop()
        await writer.close()
        reader.close()
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

function startIngest(ingest: Worker, hub: DataHub, config: Config): Promise<number> {
  return new Promise((resolve, reject) => {
    ingest.addEventListener('message', (event: MessageEvent<IngestToHub>) => {
      const message = event.data
      if (message.type === 'listening') resolve(message.port)
      else if (message.type === 'failed') reject(new Error(message.message))
      else hub.onIngest(message)
    })
    ingest.addEventListener('error', (event) => reject(new Error(`ingest thread failed: ${(event as ErrorEvent).message}`)))
    ingest.postMessage({
      type: 'start',
      host: config.host,
      port: config.ingestPort,
      maxBodyBytes: config.maxBodyBytes,
      maxClockSkewMs: config.maxClockSkewMs,
      agentTokens: [...config.agentTokens],
    } satisfies HubToIngest)
  })
}

function stopIngest(ingest: Worker): Promise<void> {
  return new Promise((resolve) => {
    ingest.addEventListener('message', (event: MessageEvent<IngestToHub>) => {
      if (event.data.type !== 'stopped') return
      ingest.terminate()
      resolve()
    })
    ingest.postMessage({ type: 'stop' } satisfies HubToIngest)
  })
}
