import type { RedisClient } from 'bun'
import { RedisLink } from './redis-link'
import {
  CHANNEL, COMMIT_SCRIPT, HEARTBEAT_SCRIPT, INDEX_KEY, SYNC_SCRIPT, envelopeKey, markerKey, messageHead, parseMessage, parseSync, stateKey,
} from './redis-scripts'
import type { SharedEvent, SharedState } from './shared'

export interface RedisStateSettings {
  /** RETENTION: the shared state of a cluster expires this long after it was last heard of */
  retentionMs: number
  /** the wall clock (epoch ms), for what has expired when everything is read */
  now?: () => number
  /** how often the link to Redis is checked (redis-link.ts; 5 s): tests shorten it */
  checkMs?: number
}

/** A snapshot to share: `m` measure the interval in Redis, `r` take `interval` (this master's measure). */
interface Commit {
  envelope: Uint8Array
  receivedMs: number
  mode: 'm' | 'r'
  interval: number | undefined
}

/** What a command costs in flight besides its envelope (keys, arguments, the reply). */
const COMMAND_BYTES = 256

/**
 * The DataHub's state shared through Redis (REDIS_URL, redis-scripts.ts for what is stored). Every
 * update is one script that also publishes the cluster's new view; every master subscribes, so each
 * DataHub hears of every agent, whichever master it posted to. What comes back reaches the DataHub
 * as events, never by a call into it from within one of its own calls.
 *
 * Redis slow: updates beyond the bytes the link may have in flight wait, one per cluster and kind
 * (a newer one replaces the waiting one), so what waits is bounded by the clusters, and holds
 * envelopes the DataHub holds anyway. Redis unreachable: every call fails at once or within the
 * command timeout (redis-link.ts), and the DataHub goes on with what it holds; when Redis is back,
 * or was found to have lost its keys, everything is read again and the DataHub shares what it holds newer.
 */
export class RedisSharedState implements SharedState {
  /** this master's name: on the channel (its own publications it has had as answers already), and for ties (SnapshotMark); hex */
  readonly origin = crypto.randomUUID().replaceAll('-', '')
  private readonly link: RedisLink
  private readonly now: () => number
  private sink: (event: SharedEvent) => void = () => {}
  private readonly waitingCommits = new Map<string, Commit>()
  private readonly waitingHeartbeats = new Map<string, number>()
  /** a sync asked for while one runs (a reconnection meanwhile: the running one may fail) runs again after it */
  private syncRunning = false
  private syncAsked = false

  constructor(url: string, private readonly settings: RedisStateSettings) {
    this.now = settings.now ?? Date.now
    this.link = new RedisLink({
      url,
      channel: CHANNEL,
      markerKey: markerKey(this.origin),
      checkMs: settings.checkMs,
      onMessage: (message) => this.onMessage(message),
      onUp: () => void this.sync(),
      onRoom: () => this.drain(),
    })
  }

  /** Connects (within a couple of seconds, or goes on trying in the background); events go to `sink`. */
  start(sink: (event: SharedEvent) => void): Promise<void> {
    this.sink = sink
    return this.link.start()
  }

  get connected(): boolean {
    return this.link.isUp
  }

  commit(clusterId: string, envelope: Uint8Array, receivedMs: number, observedIntervalMs: number | undefined): void {
    this.offerCommit(clusterId, { envelope, receivedMs, mode: 'm', interval: observedIntervalMs })
  }

  restore(clusterId: string, envelope: Uint8Array, receivedMs: number, observedIntervalMs: number | undefined): void {
    this.offerCommit(clusterId, { envelope, receivedMs, mode: 'r', interval: observedIntervalMs })
  }

  heartbeat(clusterId: string, atMs: number): void {
    const waiting = this.waitingHeartbeats.get(clusterId)
    if (waiting !== undefined) return void this.waitingHeartbeats.set(clusterId, Math.max(waiting, atMs))
    if (!this.link.isUp || this.link.hasRoom(COMMAND_BYTES)) return this.sendHeartbeat(clusterId, atMs)
    this.waitingHeartbeats.set(clusterId, atMs)
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
    this.waitingCommits.clear()
    this.waitingHeartbeats.clear()
    this.link.close()
  }

  /**
   * Sends a commit now if the link has room, else holds it back. A newer commit of the cluster
   * replaces the one held back; the snapshot skipped so is not measured in Redis, so the newer one
   * carries the interval this master measured with it.
   */
  private offerCommit(clusterId: string, commit: Commit): void {
    const waiting = this.waitingCommits.get(clusterId)
    if (waiting) {
      if (commit.receivedMs >= waiting.receivedMs) this.waitingCommits.set(clusterId, { ...commit, mode: 'r' })
      return
    }
    // Down: it fails at once (counted), and is shared again at the reconnection.
    if (!this.link.isUp || this.link.hasRoom(commit.envelope.byteLength + COMMAND_BYTES)) return this.sendCommit(clusterId, commit)
    this.waitingCommits.set(clusterId, commit)
  }

  /** Sends what was held back, oldest first, while the link has room. */
  private drain(): void {
    for (const [clusterId, commit] of this.waitingCommits) {
      if (!this.link.hasRoom(commit.envelope.byteLength + COMMAND_BYTES)) return
      this.waitingCommits.delete(clusterId)
      this.sendCommit(clusterId, commit)
    }
    for (const [clusterId, atMs] of this.waitingHeartbeats) {
      if (!this.link.hasRoom(COMMAND_BYTES)) return
      this.waitingHeartbeats.delete(clusterId)
      this.sendHeartbeat(clusterId, atMs)
    }
  }

  private sendCommit(clusterId: string, { envelope, receivedMs, mode, interval }: Commit): void {
    const args = [String(receivedMs), envelope, this.ttl, CHANNEL, messageHead(this.origin, clusterId), clusterId, this.origin, mode, interval === undefined ? '' : String(interval)]
    void this.update(clusterId, COMMIT_SCRIPT, args, envelope.byteLength + COMMAND_BYTES)
  }

  private sendHeartbeat(clusterId: string, atMs: number): void {
    void this.update(clusterId, HEARTBEAT_SCRIPT, [String(atMs), this.ttl, CHANNEL, messageHead(this.origin, clusterId), clusterId], COMMAND_BYTES)
  }

  private get ttl(): string {
    return String(Math.max(1, Math.round(this.settings.retentionMs)))
  }

  private async update(clusterId: string, script: string, args: (string | Uint8Array)[], bytes: number): Promise<void> {
    const keys = [stateKey(clusterId), envelopeKey(clusterId), INDEX_KEY]
    const reply = await this.link.run((client) => evaluate(client, script, keys, args), bytes)
    const parsed = typeof reply === 'string' ? parseMessage(reply) : undefined
    if (parsed) this.sink({ type: 'views', views: [[clusterId, parsed.view]] })
  }

  private onMessage(message: string): void {
    const parsed = parseMessage(message)
    // This master's own updates came back as the script's answer already.
    if (!parsed || parsed.origin === this.origin) return
    this.sink({ type: 'views', views: [[parsed.clusterId, parsed.view]] })
  }

  /** Reads every view; the DataHub then shares what it holds newer, which includes whatever was held back here. */
  private async sync(): Promise<void> {
    this.syncAsked = true
    if (this.syncRunning) return
    this.syncRunning = true
    while (this.syncAsked) {
      this.syncAsked = false
      this.waitingCommits.clear()
      this.waitingHeartbeats.clear()
      const cutoff = String(this.now() - this.settings.retentionMs)
      const reply = await this.link.run((client) => evaluate(client, SYNC_SCRIPT, [INDEX_KEY], [cutoff, stateKey('')]))
      if (reply !== undefined) this.sink({ type: 'synced', views: parseSync(reply) })
    }
    this.syncRunning = false
  }
}

const shas = new Map<string, string>()

/**
 * Runs a script by its SHA1 (EVALSHA: a few bytes a command, not the script's text); a Redis that
 * does not know it yet (started since, or flushed) is sent the text once (EVAL, which caches it).
 */
async function evaluate(client: RedisClient, script: string, keys: string[], args: (string | Uint8Array)[]): Promise<unknown> {
  let sha = shas.get(script)
  if (!sha) shas.set(script, (sha = new Bun.CryptoHasher('sha1').update(script).digest('hex')))
  // Bun's client sends a Uint8Array argument as it is (binary-safe); its types say strings only.
  const rest = [String(keys.length), ...keys, ...args] as string[]
  try {
    return await client.send('EVALSHA', [sha, ...rest])
  } catch (error) {
    if (!String((error as Error).message).startsWith('NOSCRIPT')) throw error
    return await client.send('EVAL', [script, ...rest])
  }
}
