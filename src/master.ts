import { AlertsThread } from './alerts/thread'
import type { Config } from './config/config'
import { DataHub } from './datahub/datahub'
import { RedisSharedState } from './datahub/redis-state'
import type { GatewayFault, WriterFault } from './faults/hooks'
import { gatewayThread } from './gateway/thread'
import type { GatewayToHub, HubToGateway } from './gateway/messages'
import { IngestPool } from './ingest/pool'
import { historyTiers } from './storage/tiers'
import { probePort } from './threads/port-probe'
import { WriterThread } from './writer/thread'

/** The whole shutdown takes at most this long (SIGTERM in Kubernetes waits 30 s by default). */
const STOP_DEADLINE_MS = 10_000
const INGEST_STOP_MS = 6_000
const GATEWAY_STOP_MS = 2_000
const ALERTS_STOP_MS = 2_000

export interface MasterOptions {
  /** the workers act on fault-injection messages (src/faults): the fault tests only */
  faultHooks?: boolean
  /** the DataHub's clocks, for tests: the wall clock (eviction of silent clusters) and, by the same
   * function, the monotonic one (a writer holding a batch too long) */
  now?: () => number
}

/**
 * What a stop found. An agent is acknowledged only after its commit, so whatever happens here
 * nothing acknowledged is lost; `problems` says what did not end as it should (for the log).
 */
export interface StopReport {
  problems: string[]
}

/** A start that cannot go on; `exitCode` 2 for a refusal an operator must fix (a damaged database). */
export class StartError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message)
  }
}

export interface Master {
  gatewayPort: number
  ingestPort: number
  hub: DataHub
  writer: WriterThread
  /** Fault injection (with `faultHooks` only). */
  faults: {
    writer(fault: WriterFault): void
    /** ingest thread `thread` (0 to INGEST_THREADS − 1) crashes; without an index, every one */
    crashIngest(thread?: number): void
    gateway(fault: GatewayFault): void
    /** the alerts actor judges silence (stale nodes, offline agents) as if its clock were `offsetMs` ahead */
    alertsClock(offsetMs: number): void
  }
  /** Runs the retention cleanup now, as of `now` (default: the clock). */
  cleanup(now?: number): void
  /** Stops accepting, answers what is in flight, drains the writer and closes the database, within 10 s. */
  stop(): Promise<StopReport>
}

/**
 * Starts the four actors in dependency order: the writer (it creates the database), the DataHub,
 * the ingest port that feeds it, then the gateway that reads the database.
 */
export async function startMaster(config: Config, options: MasterOptions = {}): Promise<Master> {
  let hub: DataHub | undefined
  let firstReady!: { resolve: () => void; reject: (error: Error) => void }
  const writerReady = new Promise<void>((resolve, reject) => (firstReady = { resolve, reject }))
  let started = false

  const writer = new WriterThread(
    {
      store: config.store,
      sampleIntervalMs: config.sampleIntervalMs,
      retentionMs: config.retentionMs,
      retentionHourlyMs: config.retentionHourlyMs,
      cleanupIntervalMs: config.cleanupIntervalMs,
      netExclude: config.netExclude,
      faultHooks: options.faultHooks,
    },
    {
      message: (message) => hub?.onWriter(message),
      ready: (restarted) => {
        if (restarted) console.warn('writer restarted')
        hub?.onWriterUp()
        firstReady.resolve()
      },
      down: (reason, corrupt) => {
        console.error(reason)
        if (!started) return firstReady.reject(new StartError(reason, corrupt ? 2 : 1))
        hub?.onWriterDown(reason)
      },
    },
  )
  writer.start()
  try {
    await writerReady
  } catch (error) {
    await writer.close(1_000)
    throw error
  }

  let ingest: IngestPool | undefined
  const gateway = gatewayThread()
  // What the DataHub sends goes to the gateway alive now (restartGateway replaces it).
  let liveGateway = gateway
  const urlHost = config.host.includes(':') ? `[${config.host.replace(/^\[|\]$/g, '')}]` : config.host
  const alerts = new AlertsThread(
    {
      dbPath: config.alertDbPath,
      configured: config.alertRules,
      staleAfterMs: config.staleAfterMs,
      agentExpireMs: config.agentExpireMs,
      retentionMs: config.retentionMs,
      externalUrl: `http://${urlHost}:${config.port}`,
      faultHooks: options.faultHooks,
    },
    (message) => hub?.onAlerts(message),
  )
  const shared = config.redisUrl ? new RedisSharedState(config.redisUrl, { retentionMs: config.retentionMs, now: options.now }) : undefined
  hub = new DataHub(
    {
      toIngest: (thread, message) => ingest?.send(thread, message),
      toWriter: (message) => writer.post(message),
      // Read on every call: after a restart the DataHub talks to the new gateway.
      toGateway: (message: HubToGateway) => liveGateway.send(message),
      toAlerts: (message) => alerts.send(message),
      shared,
    },
    {
      writeQueueLimit: config.writeQueueLimit, maxClusters: config.maxClusters, retentionMs: config.retentionMs,
      agentExpireMs: config.agentExpireMs, now: options.now, monotonic: options.now,
    },
  )
  // Before agents are taken, so their first commits are shared; Redis out of reach delays the start by
  // a connection timeout at most, and the master goes on with its own state (retrying in the background).
  await shared?.start((event) => hub!.onShared(event))
  try {
    await alerts.start()
  } catch (error) {
    shared?.close()
    await writer.close(1_000)
    throw new StartError((error as Error).message, 1)
  }
  const ingestSettings = {
    host: config.host,
    port: config.ingestPort,
    maxBodyBytes: config.maxBodyBytes,
    maxInflightBytes: config.maxInflightBytes,
    maxClockSkewMs: config.maxClockSkewMs,
    agentTokens: [...config.agentTokens],
    agentNetworks: config.agentNetworks,
    netExclude: config.netExclude,
    faultHooks: options.faultHooks,
  }
  // What the gateway is to learn of a turn's commits leaves before the agents' answers do, so a
  // dashboard asked right after a 200 already shows it; each still leaves as one batch a turn.
  const gatewayFirst = () => {
    hub!.flush()
    liveGateway.flush()
  }
  let stopping = false
  let gatewayPort: number
  let ingestPort: number
  ingest = new IngestPool(config.ingestThreads, ingestSettings, {
    message: (thread, message) => hub!.onIngest(message, thread),
    lost: (thread) => hub!.onIngestLost(thread),
    beforeAnswers: gatewayFirst,
  }, INGEST_STOP_MS)

  // A dead gateway leaves dashboards with a closed port: start another on the same port. It keeps
  // no state of its own that the DataHub could not send again.
  const startGateway = async (thread: typeof gateway, port: number): Promise<number> => {
    const bound = await thread.start(
      { type: 'start', settings: { ...gatewaySettings, port } },
      (message: Exclude<GatewayToHub, { type: 'listening' | 'failed' | 'stopped' }>) => hub!.onGateway(message),
      (reason) => void restartGateway(reason),
    )
    return bound
  }
  const gatewaySettings = {
    host: config.host,
    port: config.port,
    store: config.store,
    tiers: historyTiers(config),
    staleAfterMs: config.staleAfterMs,
    agentExpireMs: config.agentExpireMs,
    apiTokens: config.apiTokens,
    corsOrigins: config.corsOrigins,
    ingestUrl: '',
    alertDbPath: config.alertDbPath,
    nice: config.gatewayNice,
    faultHooks: options.faultHooks,
  }
  const restartGateway = async (reason: string): Promise<void> => {
    console.error(`${reason}; restarting the gateway thread`)
    for (let attempt = 0; !stopping; attempt++) {
      const next = gatewayThread()
      liveGateway = next // what the DataHub sends from now on follows the start message
      try {
        await startGateway(next, gatewayPort)
        if (stopping) return void (await next.stop({ type: 'stop' }, GATEWAY_STOP_MS))
        hub!.resendState()
        return
      } catch (error) {
        next.terminate()
        console.error(`gateway restart failed: ${(error as Error).message}`)
        await Bun.sleep(Math.min(100 * 2 ** attempt, 5_000))
      }
    }
  }
  try {
    // Agents are taken from here on; the gateway documents the ingest port, so it starts second and
    // is sent the DataHub's state once it listens.
    try {
      ingestPort = await ingest.start()
    } catch (error) {
      throw new Error(`${(error as Error).message} (INGEST_PORT)`)
    }
    gatewaySettings.ingestUrl = `http://${urlHost}:${ingestPort}`
    probePort(config.host, config.port, 'PORT')
    gatewayPort = await startGateway(gateway, config.port)
    alerts.send({ type: 'external-url', url: `http://${urlHost}:${gatewayPort}` })
    hub.resendState()
  } catch (error) {
    ingest?.terminate()
    await liveGateway.stop({ type: 'stop' }, GATEWAY_STOP_MS)
    await writer.close(2_000)
    await alerts.stop(ALERTS_STOP_MS)
    shared?.close()
    throw error
  }
  started = true
  const stallCheck = setInterval(() => hub!.checkStall(), 1_000)

  return {
    gatewayPort,
    ingestPort,
    hub,
    writer,
    faults: {
      writer: (fault) => writer.inject({ type: 'fault', fault }),
      crashIngest: (thread) => ingest!.crash(thread),
      gateway: (fault) => liveGateway.send({ type: 'fault', fault }),
      alertsClock: (offsetMs) => alerts.send({ type: 'clock', offsetMs }),
    },
    cleanup: (now) => void writer.post({ type: 'cleanup', now }),
    stop: async () => {
      stopping = true
      clearInterval(stallCheck)
      const until = Date.now() + STOP_DEADLINE_MS
      const problems: string[] = []
      // Ingest first, all threads at once: they stop reading, and the requests waiting for their commit get their answer.
      for (const thread of await ingest!.stop()) problems.push(`ingest thread ${thread} did not stop in time and was ended`)
      await liveGateway.stop({ type: 'stop' }, GATEWAY_STOP_MS)
      const unconfirmed = hub!.writeQueueRows
      const closed = await writer.close(Math.max(1_000, until - Date.now()))
      // After the writer: the last commits' samples are judged and their state changes stored.
      await alerts.stop(Math.min(ALERTS_STOP_MS, Math.max(200, until - Date.now())))
      shared?.close()
      if (!closed.committed) {
        problems.push(
          `${closed.reason}: ${unconfirmed} node row(s) handed to it were not confirmed (none of them was acknowledged; ` +
            'their agents retry); everything acknowledged is committed',
        )
      }
      return { problems }
    },
  }
}
