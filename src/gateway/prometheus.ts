import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { AlertsStatus } from '../alerts/messages'
import { FIGURES } from '../model/figures'
import type { LatestFigures } from '../storage/metrics-reader'
import type { ReadStore } from '../storage/store'
import type { MasterEvent } from './messages'
import type { FleetStatus } from './status'

export interface PrometheusSources {
  reader: ReadStore
  status: FleetStatus
}

/**
 * GET /metrics in the Prometheus text format: the master's own figures, fed by the events the
 * DataHub sends the gateway, and a gauge per node figure read from the latest table at scrape time.
 * One registry per gateway, so several masters in one process (the tests) do not mix.
 */
export class PrometheusMetrics {
  readonly registry = new Registry()
  private readonly received: Counter
  private readonly rejected: Counter<'reason'>
  private readonly commitRows: Histogram
  private readonly commitSeconds: Histogram
  private readonly cleanupPoints: Counter<'tier'>
  private readonly cleanupNodes: Counter
  private readonly compactedPoints: Counter<'tier'>
  private readonly figuresDropped: Counter<'field' | 'reason'>
  private readonly writeFailures: Counter
  private readonly ingestRequests: Counter<'thread'>
  private queueRows = 0
  private alerts: AlertsStatus | undefined
  private readonly notifications: Counter<'type' | 'outcome'>

  constructor(sources: PrometheusSources) {
    const registers = [this.registry]
    this.received = new Counter({
      name: 'nmm_snapshots_received_total', help: 'Snapshots acknowledged to agents (committed; 503s are not counted).', registers,
    })
    this.writeFailures = new Counter({
      name: 'nmm_write_failures_total', help: 'Writer transactions that failed (their snapshots were answered 503).', registers,
    })
    this.ingestRequests = new Counter({
      name: 'nmm_ingest_requests_total',
      help: 'HTTP requests on the agents\' port, by the ingest thread that took them (the kernel spreads connections over INGEST_THREADS).',
      labelNames: ['thread'], registers,
    })
    this.rejected = new Counter({
      name: 'nmm_snapshots_rejected_total', help: 'Agent requests answered with an error, by error code.', labelNames: ['reason'], registers,
    })
    this.commitRows = new Histogram({
      name: 'nmm_commit_rows', help: 'Node rows per writer transaction.', buckets: [1, 10, 50, 100, 500, 1000, 5000], registers,
    })
    this.commitSeconds = new Histogram({
      name: 'nmm_commit_seconds', help: 'Time to run one writer transaction.', buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1], registers,
    })
    this.cleanupPoints = new Counter({
      name: 'nmm_cleanup_deleted_points_total', help: 'History points deleted by the retention cleanup.', labelNames: ['tier'], registers,
    })
    this.compactedPoints = new Counter({
      name: 'nmm_history_compacted_points_total', help: 'History points moved from open rows into chunks, by tier.', labelNames: ['tier'], registers,
    })
    this.cleanupNodes = new Counter({
      name: 'nmm_cleanup_deleted_nodes_total', help: 'Nodes removed after RETENTION without a snapshot.', registers,
    })
    this.figuresDropped = new Counter({
      name: 'nmm_figures_dropped_total',
      help: 'Values of acknowledged snapshots left out of the derived figures (out of physical range), by field and reason.',
      labelNames: ['field', 'reason'], registers,
    })
    const queueRows = () => this.queueRows
    new Gauge({
      name: 'nmm_writer_queue_rows', help: 'Node rows handed to the writer and not yet committed.', registers,
      collect() {
        this.set(queueRows())
      },
    })
    new Gauge({
      name: 'nmm_database_bytes', help: 'Size of the store: the SQLite file and its WAL, or the PostgreSQL database.', registers,
      async collect() {
        // A store that cannot answer leaves the gauge out, not the master's own figures.
        const bytes = await Promise.resolve(sources.reader.sizeBytes()).catch(() => undefined)
        if (bytes === undefined) this.reset()
        else this.set(bytes)
      },
    })
    this.notifications = new Counter({
      name: 'nmm_alert_notifications_total',
      help: 'Notifications sent to alert receivers, by target type and outcome (sent: the receiver took it; failed: an attempt failed, retried with back-off).',
      labelNames: ['type', 'outcome'], registers,
    })
    this.nodeGauges(sources)
    this.alertGauges()
  }

  /**
   * The alerts actor's latest figures (it sends them at most once a second, when they change). Its
   * notification counts are its own since it started: the counter grows by their increase (by all
   * of them after a restart of the actor, whose counts start again from 0).
   */
  recordAlerts(status: AlertsStatus): void {
    for (const [type, counts] of Object.entries(status.notifications)) {
      const before = this.alerts?.notifications[type as keyof AlertsStatus['notifications']]
      for (const outcome of ['sent', 'failed'] as const) {
        const now = counts[outcome]
        const grown = before && now >= before[outcome] ? now - before[outcome] : now
        if (grown > 0) this.notifications.inc({ type, outcome }, grown)
      }
    }
    this.alerts = status
  }

  /** Counters kept by the alerts actor, shown as it last reported them (a restarted gateway is told them again). */
  private alertGauges(): void {
    const alerts = () => this.alerts
    const registers = [this.registry]
    new Gauge({
      name: 'nmm_alerts_firing', help: 'Alerts firing now, by rule and severity.', labelNames: ['rule', 'severity'], registers,
      collect() {
        this.reset()
        for (const [rule, severity, count] of alerts()?.firing ?? []) this.set({ rule, severity }, count)
      },
    })
    new Gauge({
      name: 'nmm_alert_notifications_pending', help: 'Notifications stored and not delivered yet (a receiver down: they wait and are retried).', registers,
      collect() {
        this.set(alerts()?.outbox ?? 0)
      },
    })
  }

  /** Counts what the DataHub reports. */
  record(event: MasterEvent): void {
    switch (event.kind) {
      case 'acknowledged':
        return this.received.inc(event.snapshots)
      case 'rejected':
        for (const [reason, count] of Object.entries(event.counts)) this.rejected.inc({ reason }, count)
        return
      case 'dropped':
        for (const [field, reasons] of Object.entries(event.counts)) {
          for (const [reason, count] of Object.entries(reasons)) this.figuresDropped.inc({ field, reason }, count)
        }
        return
      case 'committed':
        this.commitRows.observe(event.rows)
        this.commitSeconds.observe(event.ms / 1000)
        return
      case 'write-failed':
        return this.writeFailures.inc(event.batches)
      case 'compacted':
        for (const [tier, count] of Object.entries(event.points)) this.compactedPoints.inc({ tier }, count)
        return
      case 'cleaned':
        for (const [tier, count] of Object.entries(event.points)) this.cleanupPoints.inc({ tier }, count)
        this.cleanupNodes.inc(event.nodes)
        return
      case 'queue':
        this.queueRows = event.rows
        return
      case 'ingest-requests':
        return this.ingestRequests.inc({ thread: String(event.thread) }, event.requests)
    }
  }

  render(): Promise<string> {
    return this.registry.metrics()
  }

  /** The latest figures of every node; read once per scrape, shared by the gauges. */
  private nodeGauges(sources: PrometheusSources): void {
    type Row = LatestFigures & { cluster_id: string; online: number }
    const labelNames = ['cluster', 'node'] as const
    let scrape: { at: number; rows: Promise<Row[]> } | undefined
    const read = async (now: number): Promise<Row[]> => {
      const statusOf = new Map<string, ReturnType<FleetStatus['nodeStatus']>>()
      return (await sources.reader.allFigures()).map((row) => {
        if (!statusOf.has(row.cluster_id)) statusOf.set(row.cluster_id, sources.status.nodeStatus(row.cluster_id, now))
        return { ...row, online: statusOf.get(row.cluster_id)!(row.received_ms) === 'online' ? 1 : 0 }
      })
    }
    const rows = (): Promise<Row[]> => {
      const now = Date.now()
      if (!scrape || now - scrape.at >= 1_000) scrape = { at: now, rows: read(now) }
      return scrape.rows
    }
    const figure = (name: string, help: string, pick: (row: Row) => number | null) =>
      new Gauge({
        name, help, labelNames, registers: [this.registry],
        async collect() {
          // A store that cannot answer leaves the node gauges out (/healthz says why), not the master's own figures.
          const read = await rows().catch(() => [] as Row[])
          this.reset()
          for (const row of read) {
            const value = pick(row)
            if (value !== null) this.set({ cluster: row.cluster_id, node: row.node_name }, value)
          }
        },
      })
    for (const { key, prometheus } of FIGURES) figure(prometheus.name, prometheus.help, (row) => row[key])
    figure('node_memory_total_bytes', 'Memory of the node, bytes.', (row) => row.mem_total)
    figure('node_memory_used_bytes', 'Memory in use on the node, bytes.', (row) => row.mem_used)
    figure('node_disk_max_usage_percent', 'Usage of the fullest disk of the node, %.', (row) => row.disk_max)
    figure('node_snapshot_timestamp_seconds', 'Time of the newest snapshot of the node.', (row) => row.snapshot_ms / 1000)
    figure('node_online', '1 while the node reports, 0 once it is stale.', (row) => row.online)
  }
}
