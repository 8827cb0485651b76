import { RedisLink } from './redis-link'
import {
  CHANNEL, COMMIT_SCRIPT, HEARTBEAT_SCRIPT, INDEX_KEY, SYNC_SCRIPT, envelopeKey, messageHead, parseMessage, parseSync, stateKey,
} from './redis-scripts'
import type { SharedEvent, SharedState } from './shared'

export interface RedisStateSettings {
  /** RETENTION: the shared state of a cluster expires this long after it was last heard of */
  retentionMs: number
  /** the wall clock (epoch ms), for what has expired when everything is read */
  now?: () => number
}

/**
 * The DataHub's state shared through Redis (REDIS_URL, redis-scripts.ts for what is stored). Every
 * update is one script that also publishes the cluster's new view; every master subscribes, so each
 * DataHub hears of every agent, whichever master it posted to. What comes back reaches the DataHub
 * as events, never by a call into it from within one of its own calls.
 *
 * Redis unreachable: every call fails at once or within the command timeout (redis-link.ts), and
 * the DataHub goes on with what it holds; when Redis is back, everything is read again and the
 * DataHub shares what it holds newer.
 */
export class RedisSharedState implements SharedState {
  /** this master's name: on the channel (its own publications it has had as answers already), and for ties (SnapshotMark); hex */
  readonly origin = crypto.randomUUID().replaceAll('-', '')
  private readonly link: RedisLink
  private readonly now: () => number
  private sink: (event: SharedEvent) => void = () => {}

  constructor(url: string, private readonly settings: RedisStateSettings) {
    this.now = settings.now ?? Date.now
    this.link = new RedisLink({ url, channel: CHANNEL, onMessage: (message) => this.onMessage(message), onUp: () => void this.sync() })
  }

  /** Connects (within a couple of seconds, or goes on trying in the background); events go to `sink`. */
  start(sink: (event: SharedEvent) => void): Promise<void> {
    this.sink = sink
    return this.link.start()
  }

  get connected(): boolean {
    return this.link.isUp
  }

  commit(clusterId: string, envelope: Uint8Array, receivedMs: number): void {
    void this.update(clusterId, COMMIT_SCRIPT, [String(receivedMs), envelope, this.ttl, CHANNEL, messageHead(this.origin, clusterId), clusterId, this.origin, 'm'], envelope.byteLength)
  }

  restore(clusterId: string, envelope: Uint8Array, receivedMs: number, observedIntervalMs: number | undefined): void {
    const interval = observedIntervalMs === undefined ? '' : String(observedIntervalMs)
    void this.update(clusterId, COMMIT_SCRIPT, [String(receivedMs), envelope, this.ttl, CHANNEL, messageHead(this.origin, clusterId), clusterId, this.origin, 'r', interval], envelope.byteLength)
  }

  heartbeat(clusterId: string, atMs: number): void {
    void this.update(clusterId, HEARTBEAT_SCRIPT, [String(atMs), this.ttl, CHANNEL, messageHead(this.origin, clusterId), clusterId])
  }

  async envelope(request: number, clusterId: string): Promise<void> {
    const bytes = await this.link.run((client) => client.getBuffer(envelopeKey(clusterId)))
    if (!bytes) return this.sink({ type: 'envelope', request, clusterId })
    // The gateway is handed the buffer itself (transferred): it must be this envelope's alone (a
    // Buffer's slice() would share it, hence the copy by constructor).
    const envelope = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : new Uint8Array(bytes)
    this.sink({ type: 'envelope', request, clusterId, envelope, gzipped: envelope[0] === 0x1f && envelope[1] === 0x8b })
  }

  close(): void {
    this.link.close()
  }

  private get ttl(): string {
    return String(Math.max(1, Math.round(this.settings.retentionMs)))
  }

  private async update(clusterId: string, script: string, args: (string | Uint8Array)[], bytes = 0): Promise<void> {
    const keys = [stateKey(clusterId), envelopeKey(clusterId), INDEX_KEY]
    // Bun's client sends a Uint8Array argument as it is (binary-safe); its types say strings only.
    const reply = await this.link.run((client) => client.send('EVAL', [script, String(keys.length), ...keys, ...args] as string[]), bytes)
    const parsed = typeof reply === 'string' ? parseMessage(reply) : undefined
    if (parsed) this.sink({ type: 'views', views: [[clusterId, parsed.view]] })
  }

  private onMessage(message: string): void {
    const parsed = parseMessage(message)
    // This master's own updates came back as the script's answer already.
    if (!parsed || parsed.origin === this.origin) return
    this.sink({ type: 'views', views: [[parsed.clusterId, parsed.view]] })
  }

  private async sync(): Promise<void> {
    const cutoff = String(this.now() - this.settings.retentionMs)
    const reply = await this.link.run((client) => client.send('EVAL', [SYNC_SCRIPT, '1', INDEX_KEY, cutoff, stateKey('')]))
    if (reply !== undefined) this.sink({ type: 'synced', views: parseSync(reply) })
  }
}
