import { ClusterDirectory } from '../gateway/directory'
import type { ClusterView } from '../gateway/messages'
import { FleetStatus } from '../gateway/status'
import type { AlertRulesDocument, AlertRulesSource } from '../model/alerts'
import { headerFigures } from '../storage/node-rows'
import { AlertStore, type SeenCluster } from './alert-store'
import { compileRule } from './compiled-rule'
import { AlertEvaluator, type Transition } from './evaluator'
import type { AlertSettings, AlertsStatus, AlertsToHub, HubToAlerts } from './messages'
import type { AlertGroup } from './notify/formats'
import { ALERTMANAGER_REFRESH_MS, Notifier } from './notify/notifier'
import { checkRules, pathText } from './rules'

/** Silence (stale nodes, offline agents) is judged this often; samples are judged as they come. */
const SILENCE_TICK_MS = 1_000
/** When each node was last heard is stored this often, so a restart judges staleness where it left off. */
const SEEN_FLUSH_MS = 30_000
const CLEANUP_MS = 3_600_000
const RESOLVED_KEPT_MS = 86_400_000
/** /metrics hears of alerts at most this often. */
const STATUS_EVERY_MS = 1_000

/**
 * The alerts actor (its own Worker): it owns the rules in force, the state of every alert, and
 * the notifications. It judges each commit's samples as the DataHub forwards them — a string
 * that costs the DataHub under a microsecond to post — so neither evaluation nor a slow receiver
 * is ever on an agent's path.
 */
export class AlertsActor {
  private readonly store: AlertStore
  private readonly evaluator: AlertEvaluator
  private readonly notifier: Notifier
  private readonly directory = new ClusterDirectory()
  private readonly status: FleetStatus
  private rules!: AlertRulesDocument
  private externalUrl: string
  private clockOffsetMs = 0
  private readonly timers: Timer[] = []
  private readonly heardDirty = new Map<string, SeenCluster>()
  private statusTimer: Timer | undefined

  constructor(
    private readonly settings: AlertSettings,
    private readonly send: (message: AlertsToHub) => void,
    private readonly now: () => number = Date.now,
  ) {
    this.externalUrl = settings.externalUrl
    this.status = new FleetStatus(this.directory, { staleAfterMs: settings.staleAfterMs, agentExpireMs: settings.agentExpireMs })
    this.store = AlertStore.open(settings.dbPath)
    this.evaluator = new AlertEvaluator(settings.agentExpireMs)
    this.notifier = new Notifier(this.store, now, () => this.statusSoon())
    const clusters = this.store.seenClusters()
    // The agents' pace as last observed: until the DataHub has measured it again (two posts), the
    // stale threshold goes by it rather than by the 15 s floor, and a slow agent is not called stale.
    this.directory.apply(clusters.map(({ cluster, heardMs, observedIntervalMs }) => [cluster, { snapshotMs: heardMs, observedIntervalMs, version: 0 }]))
    this.evaluator.restore(this.store.alerts(), this.store.seenNodes(), clusters.map(({ cluster, heardMs }) => [cluster, heardMs]), now())
    this.putInForce(this.startingRules())
    this.cleanup() // nodes silent for RETENTION leave before they are judged stale again
    this.notifier.pump() // what a previous run stored but could not deliver
    this.timers.push(
      setInterval(() => this.judgeSilence(), SILENCE_TICK_MS),
      setInterval(() => this.flushSeen(), SEEN_FLUSH_MS),
      setInterval(() => void this.notifier.refreshAlertmanagers(() => this.firing(), this.externalUrl), ALERTMANAGER_REFRESH_MS),
      setInterval(() => this.cleanup(), CLEANUP_MS),
    )
    this.publishStatus()
  }

  handle(message: Exclude<HubToAlerts, { type: 'start' | 'stop' }>): void {
    switch (message.type) {
      case 'samples':
        return this.onSamples(message.receivedMs, message.header)
      case 'clusters':
        return this.onClusters(message.views)
      case 'set-rules':
        return this.onSetRules(message.request, message.document)
      case 'external-url':
        this.externalUrl = message.url
        return
      case 'clock':
        if (!this.settings.faultHooks) return
        this.clockOffsetMs = message.offsetMs
        return this.judgeSilence()
    }
  }

  stop(): void {
    for (const timer of this.timers) clearInterval(timer)
    clearTimeout(this.statusTimer)
    this.notifier.stop()
    this.flushSeen()
    this.store.close()
  }

  /**
   * The rules a start puts in force: those PUT through the API while ALERT_RULES (its setting and
   * its file's content) is as it was then; otherwise what ALERT_RULES says — an edited file wins.
   */
  private startingRules(): { source: AlertRulesSource; document: AlertRulesDocument } {
    const { configured } = this.settings
    const stored = this.store.rules()
    if (stored?.source === 'api' && stored.configuredFingerprint === configured.fingerprint) {
      console.log(`alerts: the rules set through the API on ${new Date(stored.updatedMs).toISOString()} are in force (${stored.document.rules.length} rule(s)), not ALERT_RULES`)
      return stored
    }
    if (stored?.source === 'api') console.warn('alerts: ALERT_RULES changed since rules were set through the API; the configured rules are in force')
    return { source: configured.source, document: configured.document }
  }

  private putInForce({ source, document }: { source: AlertRulesSource; document: AlertRulesDocument }): void {
    this.rules = document
    const stored = this.store.rules()
    if (stored?.source !== source || JSON.stringify(stored.document) !== JSON.stringify(document)) {
      this.store.saveRules({ source, configuredFingerprint: this.settings.configured.fingerprint, document, updatedMs: this.now() })
    }
    this.notifier.setTargets(document.notify ?? [])
    this.commit(this.evaluator.setRules(document.rules.map(compileRule), this.now()))
    this.statusSoon() // /metrics lists the rules in force, firing or not
  }

  private onSamples(receivedMs: number, header: string): void {
    const transitions: Transition[] = []
    for (const { cluster, node, snapshotMs, values } of headerFigures(header)) {
      this.evaluator.sample(cluster, node, snapshotMs, receivedMs, values, transitions)
    }
    this.commit(transitions)
  }

  private onClusters(views: [string, ClusterView | null][]): void {
    // The DataHub knows an agent's pace only from its second post after a start: until then the one stored is kept.
    for (const [cluster, view] of views) {
      if (view && view.observedIntervalMs === undefined) view.observedIntervalMs = this.directory.get(cluster)?.observedIntervalMs
    }
    this.directory.apply(views)
    const transitions: Transition[] = []
    const now = this.clock()
    for (const [cluster, view] of views) {
      const heard = view ? Math.max(view.snapshotMs ?? -Infinity, view.heartbeatMs ?? -Infinity) : undefined
      if (heard === -Infinity) continue
      this.evaluator.heard(cluster, heard, now, transitions)
      if (heard === undefined) {
        this.heardDirty.delete(cluster)
        this.store.forgetSeen([], [cluster])
      } else {
        this.heardDirty.set(cluster, { cluster, heardMs: heard, observedIntervalMs: view?.observedIntervalMs })
      }
    }
    this.commit(transitions)
  }

  private onSetRules(request: number, document: AlertRulesDocument): void {
    const next = { rules: document.rules, notify: document.notify ?? this.rules.notify ?? [] }
    const check = checkRules(next)
    if (!check.ok) {
      const error = check.problems.map((problem) => `${pathText(problem.path)}: ${problem.message}`).join('; ')
      return this.send({ type: 'rules-set', request, error })
    }
    this.putInForce({ source: 'api', document: check.document })
    this.send({ type: 'rules-set', request })
  }

  private judgeSilence(): void {
    const transitions: Transition[] = []
    this.evaluator.silence({ now: this.clock(), staleAfterMs: (cluster) => this.status.staleAfterMs(cluster) }, transitions)
    this.commit(transitions)
  }

  /**
   * Stores one evaluation's changes with the notifications they make, then sends them. Grouped:
   * one message per rule and cluster, however many nodes changed together.
   */
  private commit(transitions: Transition[]): void {
    if (transitions.length === 0) return
    const groups = new Map<string, AlertGroup>()
    for (const { to, alert } of transitions) {
      if (to !== 'firing' && to !== 'resolved') continue
      const key = `${alert.rule}\0${alert.cluster}`
      let group = groups.get(key)
      if (!group) {
        const description = this.rules.rules.find((rule) => rule.name === alert.rule)?.description
        groups.set(key, (group = { rule: alert.rule, cluster: alert.cluster, severity: alert.severity, description, alerts: [] }))
      }
      group.alerts.push(alert)
    }
    this.store.record(transitions, this.notifier.messagesFor([...groups.values()], this.externalUrl), this.now())
    this.storeSeenOf(transitions)
    if (groups.size > 0) this.notifier.pump()
    this.statusSoon()
  }

  /**
   * A silence alert is judged after a restart by when its node or agent was last heard: that time
   * is stored with the alert's change rather than at the next 30 s flush, so a kill -9 between the
   * two cannot make the restarted master think the node just reported (a false resolve, a second fire).
   */
  private storeSeenOf(transitions: Transition[]): void {
    const nodes = this.evaluator.takeUnsaved(transitions.filter(({ alert }) => alert.figure === 'stale').map(({ alert }) => alert))
    const clusters: SeenCluster[] = []
    for (const { alert } of transitions) {
      if (alert.figure === 'agent_offline') {
        const heard = this.heardDirty.get(alert.cluster)
        if (heard && this.heardDirty.delete(alert.cluster)) clusters.push(heard)
      }
    }
    if (nodes.length > 0 || clusters.length > 0) this.store.saveSeen(nodes, clusters)
  }

  private firing() {
    return [...this.evaluator.active()].filter((alert) => alert.state === 'firing')
  }

  private flushSeen(): void {
    const nodes = this.evaluator.takeUnsaved()
    if (nodes.length === 0 && this.heardDirty.size === 0) return
    this.store.saveSeen(nodes, this.heardDirty.values())
    this.heardDirty.clear()
  }

  private cleanup(): void {
    const now = this.now()
    const transitions: Transition[] = []
    const cutoff = now - this.settings.retentionMs
    const forgotten = this.evaluator.forgetSilentNodes(cutoff, now, transitions)
    const clusters = this.evaluator.forgetSilentClusters(cutoff, now, transitions)
    for (const cluster of clusters) this.heardDirty.delete(cluster)
    this.store.forgetSeen(forgotten, clusters)
    this.commit(transitions)
    this.store.cleanup(now - this.settings.retentionMs, now - RESOLVED_KEPT_MS)
  }

  /** Silence is judged on the master's clock (ahead by the tests' offset, with fault hooks). */
  private clock(): number {
    return this.now() + this.clockOffsetMs
  }

  private statusSoon(): void {
    this.statusTimer ??= setTimeout(() => {
      this.statusTimer = undefined
      this.publishStatus()
    }, STATUS_EVERY_MS)
  }

  private publishStatus(): void {
    const firing = new Map<string, [string, string, number]>()
    for (const rule of this.rules.rules) firing.set(rule.name, [rule.name, rule.severity ?? 'warning', 0])
    for (const alert of this.firing()) {
      const entry = firing.get(alert.rule)
      if (entry) entry[2]++
    }
    const status: AlertsStatus = { firing: [...firing.values()], notifications: structuredClone(this.notifier.counts), outbox: this.store.outboxSize() }
    this.send({ type: 'status', status })
  }
}
