import { breaches, clears, type CompiledRule } from './compiled-rule'
import { FIGURES } from '../model/figures'
import { ThresholdIndex } from './threshold-index'
import type { SeenNode } from './alert-store'

/** The state of one (rule, cluster, node) that is not inactive; agent_offline alerts have node "". */
export interface AlertRecord {
  rule: string
  figure: string
  severity: string
  cluster: string
  node: string
  state: 'pending' | 'firing' | 'resolved'
  /** when the condition began to hold (a sample's time, or for silence the master's clock) */
  activeSinceMs: number
  firedMs?: number
  resolvedMs?: number
  /** the figure at the last change of state; null for silence */
  value: number | null
  summary: string
}

export type AlertPhase = 'inactive' | AlertRecord['state']

/** A change of state: what is stored, shown in the history and (to firing, to resolved) sent. */
export interface Transition {
  from: AlertPhase
  to: AlertPhase
  atMs: number
  /** the alert after the change (its state is `to`, or `resolved` / the last state for `inactive`) */
  alert: AlertRecord
}

/** What silence is judged by: the master's clock and its thresholds (the node list's status). */
export interface SilenceSettings {
  now: number
  staleAfterMs(cluster: string): number
}

interface NodeTrack {
  cluster: string
  node: string
  /** the newest sample's own time: an older one (a retry) is not judged again */
  lastSampleMs: number
  /** when the master received the newest sample (its clock): what staleness is judged from */
  receivedMs: number
  /** the rules that apply to this node besides the ones that apply everywhere, for `rulesVersion` */
  scoped?: CompiledRule[]
  rulesVersion: number
  /** its alerts that are not inactive, by rule name */
  alerts?: Map<string, AlertRecord>
}

interface ClusterTrack {
  /** the agent's last snapshot or heartbeat (master's clock) */
  heardMs?: number
  alerts?: Map<string, AlertRecord>
}

/** A node's key in maps: cluster and node names cannot hold a NUL. */
export const nodeKey = (cluster: string, node: string) => `${cluster}\0${node}`
const FIGURE_COUNT = FIGURES.length

/**
 * Judges every committed sample against the rules as it arrives, and silence (stale nodes,
 * offline agents) on the master's clock. It owns the state of every (rule, cluster, node) that is
 * not inactive and returns the changes; storing and sending them is the actor's.
 *
 * A rule that applies everywhere is judged from one shared list; rules scoped to clusters or node
 * patterns are matched once per node and rules version, so a sample costs one comparison per
 * applicable rule and a map lookup only for the alerts the node has.
 */
export class AlertEvaluator {
  private rules: CompiledRule[] = []
  private everywhere = new ThresholdIndex([])
  private byName = new Map<string, CompiledRule>()
  private scopedRules: CompiledRule[] = []
  private rulesVersion = 0
  private readonly nodes = new Map<string, NodeTrack>()
  private readonly clusters = new Map<string, ClusterTrack>()
  /** nodes heard since the actor last stored when they were */
  private readonly unsaved = new Set<NodeTrack>()

  /**
   * When this run started: silence is counted from it at the earliest, so the time the master
   * itself was down (or a last-heard time stored up to 30 s late) is not the nodes' silence.
   */
  private startedMs = -Infinity

  /** `agentExpireMs`: AGENT_EXPIRE, how long an agent may be silent before it is offline */
  constructor(private readonly agentExpireMs: number) {}

  get ruleCount(): number {
    return this.rules.length
  }

  /**
   * Puts rules in force. Alerts of a rule that is gone, or whose figure or scope no longer covers
   * them, resolve (firing) or end (pending); the others carry on under the new definition.
   */
  setRules(rules: CompiledRule[], now: number): Transition[] {
    this.rules = rules
    this.everywhere = new ThresholdIndex(rules.filter((rule) => rule.everywhere))
    this.scopedRules = rules.filter((rule) => !rule.everywhere)
    this.rulesVersion++
    const byName = (this.byName = new Map(rules.map((rule) => [rule.name, rule])))
    const transitions: Transition[] = []
    const keep = (alert: AlertRecord) => {
      const rule = byName.get(alert.rule)
      // A changed severity is another alert to receivers (its labels differ): the old one resolves, the new one starts over.
      return rule !== undefined && rule.figure === alert.figure && rule.severity === alert.severity &&
        rule.appliesToCluster(alert.cluster) && (rule.kind === 'agent_offline' || rule.appliesToNode(alert.node))
    }
    for (const alerts of this.allAlertMaps()) {
      for (const [name, alert] of alerts) {
        if (keep(alert)) continue
        alerts.delete(name)
        transitions.push(this.end(alert, now, 'the rule was changed or removed'))
      }
    }
    return transitions
  }

  /**
   * Alerts read back at a start: they carry on where they were, so nothing is sent again. A node
   * with an alert but no stored last-heard time (a crash within 30 s of its first sample) counts as
   * heard at `now`, not at the epoch: it is not called stale for the gap.
   */
  restore(alerts: AlertRecord[], seen: { cluster: string; node: string; lastSampleMs: number; receivedMs: number }[], heard: [string, number][], now: number): void {
    this.startedMs = now
    for (const entry of seen) {
      this.nodes.set(nodeKey(entry.cluster, entry.node), { ...entry, rulesVersion: -1 })
    }
    for (const [cluster, heardMs] of heard) this.clusterTrack(cluster).heardMs = heardMs
    for (const alert of alerts) {
      if (alert.state === 'resolved') continue
      const map = alert.figure === 'agent_offline' ? (this.clusterTrack(alert.cluster).alerts ??= new Map()) : this.nodeAlerts(this.nodeTrack(alert.cluster, alert.node, now))
      map.set(alert.rule, alert)
    }
  }

  /** One node's committed sample: `values` in the figure registry's order (null: not reported). */
  sample(cluster: string, node: string, sampleMs: number, receivedMs: number, values: readonly (number | null)[], out: Transition[]): void {
    const track = this.nodeTrack(cluster, node, receivedMs)
    if (sampleMs <= track.lastSampleMs) return
    track.lastSampleMs = sampleMs
    track.receivedMs = Math.max(track.receivedMs, receivedMs)
    this.unsaved.add(track)
    // The node's alerts first, each judged on its own: they may end, resolve or fire. A node that
    // reports is not stale: its stale alerts end with this sample.
    let had: Set<string> | undefined
    if (track.alerts && track.alerts.size > 0) {
      had = new Set(track.alerts.keys())
      for (const alert of [...track.alerts.values()]) {
        const rule = this.byName.get(alert.rule)
        if (alert.figure === 'stale') this.quiet(track.alerts, alert, receivedMs, out)
        else if (rule && rule.figureIndex >= 0) this.judge(track, rule, values[rule.figureIndex], sampleMs, out)
      }
    }
    // Then only the rules the sample breaches can start an alert.
    const start = (rule: CompiledRule, value: number) => {
      if (!had?.has(rule.name)) this.judge(track, rule, value, sampleMs, out)
    }
    for (let figure = 0; figure < FIGURE_COUNT; figure++) {
      const value = values[figure]
      if (value !== null && value !== undefined) this.everywhere.forEachBreached(figure, value, (rule) => start(rule, value))
    }
    for (const rule of this.scoped(track)) {
      const value = rule.figureIndex >= 0 ? values[rule.figureIndex] : null
      if (value !== null && value !== undefined) start(rule, value)
    }
  }

  /** What the master last heard from a cluster's agent (snapshot or heartbeat); undefined: the cluster is forgotten. */
  heard(cluster: string, heardMs: number | undefined, now: number, out: Transition[]): void {
    if (heardMs === undefined) return this.forgetCluster(cluster, now, out)
    const track = this.clusterTrack(cluster)
    track.heardMs = Math.max(track.heardMs ?? -Infinity, heardMs)
    // Heard within AGENT_EXPIRE: the agent is online again.
    if (!track.alerts || now - track.heardMs > this.agentExpireMs) return
    for (const alert of track.alerts.values()) this.quiet(track.alerts, alert, now, out)
  }

  /** Judges silence as of `settings.now`: nodes past their stale threshold, agents past AGENT_EXPIRE. */
  silence(settings: SilenceSettings, out: Transition[]): void {
    const { now } = settings
    const staleRules = this.rules.filter((rule) => rule.kind === 'stale')
    if (staleRules.length > 0) {
      for (const track of this.nodes.values()) {
        const staleAfter = settings.staleAfterMs(track.cluster)
        // A node that reports and has no alert has nothing to judge (and gets no map of alerts).
        if (now <= Math.max(track.receivedMs, this.startedMs) + staleAfter && !track.alerts?.size) continue
        for (const rule of staleRules) {
          if (!rule.appliesToCluster(track.cluster) || !rule.appliesToNode(track.node)) continue
          this.judgeSilence(this.nodeAlerts(track), rule, track.cluster, track.node, track.receivedMs, staleAfter, now, out)
        }
      }
    }
    const offlineRules = this.rules.filter((rule) => rule.kind === 'agent_offline')
    if (offlineRules.length === 0) return
    for (const [cluster, track] of this.clusters) {
      if (track.heardMs === undefined) continue
      if (now <= Math.max(track.heardMs, this.startedMs) + this.agentExpireMs && !track.alerts?.size) continue
      for (const rule of offlineRules) {
        if (rule.appliesToCluster(cluster)) this.judgeSilence((track.alerts ??= new Map()), rule, cluster, '', track.heardMs, this.agentExpireMs, now, out)
      }
    }
  }

  /** Nodes not heard of since `cutoff` (RETENTION) are forgotten, their alerts resolved; returns them. */
  forgetSilentNodes(cutoff: number, now: number, out: Transition[]): [cluster: string, node: string][] {
    const forgotten: [string, string][] = []
    for (const [key, track] of this.nodes) {
      if (track.receivedMs >= cutoff) continue
      this.nodes.delete(key)
      this.unsaved.delete(track)
      forgotten.push([track.cluster, track.node])
      for (const alert of track.alerts?.values() ?? []) out.push(this.end(alert, now, 'the node is no longer kept'))
    }
    return forgotten
  }

  /** Clusters not heard of since `cutoff` (RETENTION), which the DataHub forgot before this run began, are forgotten too. */
  forgetSilentClusters(cutoff: number, now: number, out: Transition[]): string[] {
    const forgotten = [...this.clusters].filter(([, track]) => (track.heardMs ?? -Infinity) < cutoff).map(([cluster]) => cluster)
    for (const cluster of forgotten) this.forgetCluster(cluster, now, out)
    return forgotten
  }

  /** Every alert that is not inactive. */
  *active(): Iterable<AlertRecord> {
    for (const alerts of this.allAlertMaps()) yield* alerts.values()
  }

  /**
   * When the nodes heard since the last call were last heard, for the actor to store (so a restart
   * judges staleness where it left off); with `only`, just those nodes.
   */
  takeUnsaved(only?: readonly { cluster: string; node: string }[]): SeenNode[] {
    const unsavedOf = ({ cluster, node }: { cluster: string; node: string }) => {
      const track = this.nodes.get(nodeKey(cluster, node))
      return track && this.unsaved.has(track) ? [track] : []
    }
    const tracks = only ? only.flatMap(unsavedOf) : [...this.unsaved]
    for (const track of tracks) this.unsaved.delete(track)
    return tracks.map(({ cluster, node, lastSampleMs, receivedMs }) => ({ cluster, node, lastSampleMs, receivedMs }))
  }

  private *allAlertMaps(): Iterable<Map<string, AlertRecord>> {
    for (const track of this.nodes.values()) if (track.alerts) yield track.alerts
    for (const track of this.clusters.values()) if (track.alerts) yield track.alerts
  }

  private scoped(track: NodeTrack): CompiledRule[] {
    if (track.rulesVersion !== this.rulesVersion) {
      track.scoped = this.scopedRules.filter((rule) => rule.appliesToCluster(track.cluster) && rule.appliesToNode(track.node))
      track.rulesVersion = this.rulesVersion
    }
    return track.scoped!
  }

  private judge(track: NodeTrack, rule: CompiledRule, value: number | null | undefined, sampleMs: number, out: Transition[]): void {
    // A figure the sample does not have says nothing either way: the alert stays as it is.
    if (value === null || value === undefined) return
    const alert = track.alerts?.get(rule.name)
    if (!alert) {
      if (!breaches(rule, value)) return
      const pending = this.record(rule, track.cluster, track.node, 'pending', sampleMs, value)
      this.nodeAlerts(track).set(rule.name, pending)
      out.push({ from: 'inactive', to: 'pending', atMs: sampleMs, alert: { ...pending } })
      if (rule.forMs === 0) this.fire(pending, sampleMs, value, rule, out)
      return
    }
    if (alert.state === 'pending') {
      if (!breaches(rule, value)) {
        track.alerts!.delete(rule.name)
        out.push({ from: 'pending', to: 'inactive', atMs: sampleMs, alert: { ...alert, value } })
      } else if (sampleMs - alert.activeSinceMs >= rule.forMs) {
        this.fire(alert, sampleMs, value, rule, out)
      }
      return
    }
    if (alert.state === 'firing' && clears(rule, value)) {
      track.alerts!.delete(rule.name)
      out.push(this.resolved(alert, sampleMs, value, summaryOf(rule, track.node, value, 'resolved')))
    }
  }

  /**
   * Silence of a node (stale) or an agent (offline), last heard at `heardMs`, silent past `limitMs`.
   * An alert that exists is judged by the time the node was last heard: it stays while the silence
   * lasts, across a restart of the master too. A new one starts only once the silence has also
   * lasted since this run started (startedMs): the master's own downtime is no one's silence.
   */
  private judgeSilence(
    alerts: Map<string, AlertRecord>, rule: CompiledRule, cluster: string, node: string, heardMs: number, limitMs: number, now: number, out: Transition[],
  ): void {
    let alert = alerts.get(rule.name)
    if (alert) {
      if (now <= heardMs + limitMs) return this.quiet(alerts, alert, now, out)
    } else {
      const since = Math.max(heardMs, this.startedMs) + limitMs
      if (now <= since) return
      alert = this.record(rule, cluster, node, 'pending', since, null)
      alerts.set(rule.name, alert)
      out.push({ from: 'inactive', to: 'pending', atMs: now, alert: { ...alert } })
    }
    if (alert.state === 'pending' && now - alert.activeSinceMs >= rule.forMs) this.fire(alert, now, null, rule, out)
  }

  /** The silence is over (or the sample says so): a pending alert ends, a firing one resolves. */
  private quiet(alerts: Map<string, AlertRecord>, alert: AlertRecord, now: number, out: Transition[]): void {
    alerts.delete(alert.rule)
    if (alert.state === 'pending') out.push({ from: 'pending', to: 'inactive', atMs: now, alert: { ...alert } })
    else out.push(this.resolved(alert, now, null, alert.figure === 'stale' ? `${alert.node} reports again` : `the agent of ${alert.cluster} reports again`))
  }

  private forgetCluster(cluster: string, now: number, out: Transition[]): void {
    const track = this.clusters.get(cluster)
    this.clusters.delete(cluster)
    for (const alert of track?.alerts?.values() ?? []) out.push(this.end(alert, now, 'the cluster is no longer kept'))
    for (const [key, node] of this.nodes) {
      if (node.cluster !== cluster) continue
      this.nodes.delete(key)
      this.unsaved.delete(node)
      for (const alert of node.alerts?.values() ?? []) out.push(this.end(alert, now, 'the cluster is no longer kept'))
    }
  }

  private fire(alert: AlertRecord, atMs: number, value: number | null, rule: CompiledRule, out: Transition[]): void {
    alert.state = 'firing'
    alert.firedMs = atMs
    alert.value = value
    alert.summary = summaryOf(rule, alert.node, value, 'firing', alert.cluster)
    out.push({ from: 'pending', to: 'firing', atMs, alert: { ...alert } })
  }

  private resolved(alert: AlertRecord, atMs: number, value: number | null, summary: string): Transition {
    return { from: 'firing', to: 'resolved', atMs, alert: { ...alert, state: 'resolved', resolvedMs: atMs, value, summary } }
  }

  /** An alert whose rule, node or cluster is gone: a firing one resolves, a pending one ends. */
  private end(alert: AlertRecord, now: number, why: string): Transition {
    if (alert.state === 'pending') return { from: 'pending', to: 'inactive', atMs: now, alert: { ...alert } }
    return this.resolved(alert, now, alert.value, `${alert.summary} (resolved: ${why})`)
  }

  private record(rule: CompiledRule, cluster: string, node: string, state: 'pending', sinceMs: number, value: number | null): AlertRecord {
    return {
      rule: rule.name, figure: rule.figure, severity: rule.severity, cluster, node, state, activeSinceMs: sinceMs, value,
      summary: summaryOf(rule, node, value, 'pending', cluster),
    }
  }

  private nodeAlerts(track: NodeTrack): Map<string, AlertRecord> {
    return (track.alerts ??= new Map())
  }

  private nodeTrack(cluster: string, node: string, receivedMs = 0): NodeTrack {
    let track = this.nodes.get(nodeKey(cluster, node))
    if (!track) this.nodes.set(nodeKey(cluster, node), (track = { cluster, node, lastSampleMs: -Infinity, receivedMs, rulesVersion: -1 }))
    return track
  }

  private clusterTrack(cluster: string): ClusterTrack {
    let track = this.clusters.get(cluster)
    if (!track) this.clusters.set(cluster, (track = {}))
    return track
  }
}

/** One line a person reads in a notification: what, where, how much. */
export function summaryOf(rule: CompiledRule, node: string, value: number | null, state: AlertPhase, cluster = ''): string {
  if (rule.kind === 'stale') return state === 'resolved' ? `${node} reports again` : `${node} (cluster ${cluster}) has sent no snapshot for longer than its stale threshold`
  if (rule.kind === 'agent_offline') return state === 'resolved' ? `the agent of ${cluster} reports again` : `the agent of cluster ${cluster} has not been heard from`
  const shown = value === null ? 'unknown' : `${Math.round(value * 100) / 100}${rule.unit ? ` ${rule.unit}` : ''}`
  if (state === 'resolved') {
    const level = rule.resolve ?? rule.threshold
    return `${rule.figure} on ${node} is back to ${shown} (${rule.resolve === undefined ? `no longer ${rule.op} ${level}` : `past the resolve level ${level}`})`
  }
  return `${rule.figure} on ${node} (cluster ${cluster}) is ${shown}, ${rule.op} ${rule.threshold}`
}
