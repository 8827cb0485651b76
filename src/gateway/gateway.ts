import { AlertReader } from '../alerts/alert-reader'
import type { AlertRulesDocument } from '../model/alerts'
import { openReadStore } from '../storage/open-store'
import { guardedReads, withDeadline } from './guarded-reads'
import { stopGatewayServer } from './stop'
import type { Health } from '../model'
import { gatewayApp } from './app'
import { ClusterDirectory } from './directory'
import type { GatewaySettings, GatewayToHub, HubToGateway, WriterHealth } from './messages'
import { PrometheusMetrics } from './prometheus'
import { FleetStatus } from './status'

/** How long a health probe or a cache check waits for the store: both read a row or two. */
const QUICK_READ_MS = 2_000
/** A client waits at most this long for the DataHub to hand over an envelope. */
const ENVELOPE_DEADLINE_MS = 5_000
/** A PUT of alert rules waits at most this long for the alerts actor to put them in force. */
const RULES_DEADLINE_MS = 5_000
/** At a stop, requests in flight get this long to finish before every connection is closed. */
const STOP_GRACE_MS = 1_000

export interface Gateway {
  port: number
  onHub(message: Exclude<HubToGateway, { type: 'start' | 'stop' }>): void
  stop(): Promise<void>
  /** fault injection (src/faults): closes the read connection under the routes */
  breakReads(): void
}

type Held = { envelope?: Uint8Array; gzipped?: boolean; timedOut?: boolean }

/** Opens the gateway's read store and serves the query port; throws (naming the port) if it cannot listen. */
export async function startGateway(settings: GatewaySettings, send: (message: GatewayToHub) => void): Promise<Gateway> {
  const store = await openReadStore(settings.store)
  const alerts = new AlertReader(settings.alertDbPath)
  const rulesAnswers = new Map<number, (answer: { error?: string; timedOut?: boolean }) => void>()
  const reader = guardedReads(store)
  const clusters = new ClusterDirectory()
  const status = new FleetStatus(clusters, settings)
  const metrics = new PrometheusMetrics({ reader, status })
  let writer: WriterHealth = { state: 'up' }
  const envelopes = new Map<number, (held: Held) => void>()
  let nextRequest = 1
  /** bumped when a cleanup removed nodes: every cached node list may hold some of them */
  let cleanups = 0

  /** The database's word on a cluster's newest commit; when reads fail, the DataHub's alone (/healthz says why). */
  const newestReceived = async (clusterId: string): Promise<number | 'unread'> => {
    try {
      // A cheap indexed read: a store that takes longer is not answering.
      return await withDeadline(store.newestReceived(clusterId), QUICK_READ_MS, 'newestReceived')
    } catch {
      return 'unread'
    }
  }

  const health = async (): Promise<Health> => {
    let readError: string | undefined
    try {
      // A probe must get its answer even from a store that hangs.
      await withDeadline(store.ping(), QUICK_READ_MS, 'ping')
    } catch (error) {
      readError = `reads fail: ${(error as Error).message}`
    }
    const reason = [writer.state === 'up' ? undefined : writer.reason, readError].filter(Boolean).join('; ')
    return {
      status: reason ? 'degraded' : 'ok',
      writer: writer.state,
      reads: readError ? 'failing' : 'ok',
      ...(reason ? { reason } : {}),
      clusters: clusters.size,
    }
  }

  const app = gatewayApp({
    reader,
    status,
    metrics: () => metrics.render(),
    knownClusters: function* () {
      for (const [clusterId, view] of clusters.entries()) yield [clusterId, { snapshotMs: view.snapshotMs, heartbeatMs: view.heartbeatMs }]
    },
    tiers: settings.tiers,
    // The DataHub's word, and the database's own: an agent's 200 can come before the DataHub's message
    // about its commit does, and a dashboard asked right after it must see it.
    dataVersion: async (clusterId) => {
      const prefix = `${cleanups}:${clusters.get(clusterId)?.version ?? 0}`
      return `${prefix}:${await newestReceived(clusterId)}`
    },
    apiTokens: settings.apiTokens,
    corsOrigins: settings.corsOrigins,
    ingestUrl: () => settings.ingestUrl,
    health,
    envelope: (clusterId) =>
      new Promise<Held>((resolve) => {
        const request = nextRequest++
        const timer = setTimeout(() => settle({ timedOut: true }), ENVELOPE_DEADLINE_MS)
        const settle = (held: Held) => {
          clearTimeout(timer)
          envelopes.delete(request)
          resolve(held)
        }
        envelopes.set(request, settle)
        send({ type: 'envelope', request, clusterId })
      }),
    alerting: {
      alerts,
      setRules: (document: AlertRulesDocument) =>
        new Promise((resolve) => {
          const request = nextRequest++
          const timer = setTimeout(() => settle({ timedOut: true }), RULES_DEADLINE_MS)
          const settle = (answer: { error?: string; timedOut?: boolean }) => {
            clearTimeout(timer)
            rulesAnswers.delete(request)
            resolve(answer)
          }
          rulesAnswers.set(request, settle)
          send({ type: 'set-rules', request, document })
        }),
    },
  })
  try {
    // development: false — an error that escapes a handler gets a bare 500, never Bun's page with source and paths.
    app.listen({ hostname: settings.host, port: settings.port, development: false })
  } catch (error) {
    await store.close()
    alerts.close()
    throw new Error(`cannot listen on ${settings.host}:${settings.port} (PORT): ${(error as Error).message}`)
  }

  return {
    port: app.server!.port!,
    onHub(message) {
      switch (message.type) {
        case 'clusters':
          return clusters.apply(message.views)
        case 'writer':
          writer = message.health
          return
        case 'event':
          if (message.event.kind === 'cleaned' && message.event.nodes > 0) cleanups++
          return metrics.record(message.event)
        case 'envelope':
          return envelopes.get(message.request)?.({ envelope: message.envelope, gzipped: message.gzipped })
        case 'rules-set':
          return rulesAnswers.get(message.request)?.({ error: message.error })
        case 'alerts':
          return metrics.recordAlerts(message.status)
      }
    },
    async stop() {
      await stopGatewayServer(app.server, STOP_GRACE_MS)
      await store.close()
      alerts.close()
    },
    breakReads() {
      void store.close()
    },
  }
}
