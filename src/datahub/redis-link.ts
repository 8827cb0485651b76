import { RedisClient } from 'bun'

/** A connection attempt gives up after this long (Redis down, or a host that drops packets). */
const CONNECT_TIMEOUT_MS = 2_000
/** A command not answered in this long (Redis stopped, not closed) fails, and the connections are dropped. */
export const COMMAND_TIMEOUT_MS = 2_000
/** While Redis cannot be reached, a new connection is tried this often. */
const RECONNECT_MS = 500
/** An idle link is probed this often, so a Redis that went silent is noticed without traffic. */
const PING_MS = 5_000
/** Bytes in flight (envelopes, mostly) past which `hasRoom` says no: the callers hold their updates back (redis-state.ts). */
const MAX_IN_FLIGHT_BYTES = 64 * 1024 * 1024
/** Commands in flight at most, whatever their size; beyond, a command fails at once rather than queue (a safety net). */
const MAX_IN_FLIGHT = 50_000

export interface LinkSettings {
  url: string
  channel: string
  /** a message published on the channel */
  onMessage(message: string): void
  /** both connections are (again) open and subscribed, or commands work again after failing: time to read everything */
  onUp(): void
  /** a command settled: there may be room for what was held back */
  onRoom(): void
}

/**
 * The two connections to Redis a master keeps: one for commands, one subscribed to the views'
 * channel (a subscribed connection takes no other commands). Neither ever queues or hangs a
 * request: while the link is down a command fails at once, a command in flight fails after
 * COMMAND_TIMEOUT_MS, and what is in flight is bounded (`hasRoom`, which callers ask first). The
 * link reconnects (and re-subscribes) by itself. Failures are logged once per burst, and a line when
 * it recovers.
 *
 * Bun's client reconnects by itself only so many times, and re-adds a listener per subscribe across
 * reconnections (every message twice); so each (re)connection here is a pair of fresh clients
 * without auto-reconnect or offline queue, and the old pair is closed.
 */
export class RedisLink {
  private commands?: RedisClient
  private subscriber?: RedisClient
  /** bumped at every (re)connection and drop: what an older pair reports is no longer about the link */
  private generation = 0
  private up = false
  private failures = 0
  /** commands run so far, and how many had been when the current burst of failures began */
  private sequence = 0
  private burstStart = 0
  private closed = false
  private inFlight = 0
  private inFlightBytes = 0
  private reconnectTimer?: Timer
  private readonly pingTimer: Timer

  constructor(private readonly settings: LinkSettings) {
    this.pingTimer = setInterval(() => this.ping(), PING_MS)
    this.pingTimer.unref()
  }

  get isUp(): boolean {
    return this.up
  }

  /** The first connection; resolves once it is made or has failed (then it is retried in the background). */
  start(): Promise<void> {
    return this.connect()
  }

  /** Whether a command carrying `bytes` more fits now; a single command always fits an idle link. */
  hasRoom(bytes: number): boolean {
    return this.inFlight === 0 || (this.inFlight < MAX_IN_FLIGHT && this.inFlightBytes + bytes <= MAX_IN_FLIGHT_BYTES)
  }

  /**
   * Runs a command on the command connection. Undefined when it failed (counted, and logged if it
   * begins a burst): callers go on with their own state.
   */
  async run<T>(command: (client: RedisClient) => Promise<T>, bytes = 0): Promise<T | undefined> {
    const client = this.commands
    if (this.closed) return undefined
    if (!this.up || !client) return void this.fail('not connected', false)
    if (this.inFlight >= MAX_IN_FLIGHT) return void this.fail(`Redis is behind: ${this.inFlight} commands in flight`, false)
    const generation = this.generation
    const sequence = ++this.sequence
    this.inFlight++
    this.inFlightBytes += bytes
    try {
      const result = await timed(command(client))
      // Only a command sent after the failures began says they are over (one sent before may just be late).
      if (this.failures > 0 && sequence > this.burstStart && generation === this.generation) this.recover()
      return result
    } catch (error) {
      const { code, message } = error as { code?: string; message: string }
      // An error reply (a full Redis, a script error) leaves the connection as it is; anything else drops it.
      this.fail(message, code !== 'ERR_REDIS_SERVER_ERROR' && generation === this.generation)
      return undefined
    } finally {
      this.inFlight--
      this.inFlightBytes -= bytes
      this.settings.onRoom()
    }
  }

  close(): void {
    this.closed = true
    clearInterval(this.pingTimer)
    clearTimeout(this.reconnectTimer)
    this.drop()
  }

  private async connect(): Promise<void> {
    this.reconnectTimer = undefined
    const generation = ++this.generation
    const options = { connectionTimeout: CONNECT_TIMEOUT_MS, autoReconnect: false, enableOfflineQueue: false }
    const commands = (this.commands = new RedisClient(this.settings.url, options))
    const subscriber = (this.subscriber = new RedisClient(this.settings.url, options))
    const lost = () => {
      if (generation === this.generation) this.fail('the connection was closed', true)
    }
    commands.onclose = lost
    subscriber.onclose = lost
    try {
      await timed(Promise.all([commands.connect(), subscriber.connect()]))
      await timed(subscriber.subscribe(this.settings.channel, (message) => {
        if (generation === this.generation) this.settings.onMessage(message)
      }))
    } catch (error) {
      if (generation === this.generation) this.fail((error as Error).message, true)
      return
    }
    if (generation !== this.generation) return
    this.up = true
    if (this.failures > 0) this.recover()
    else this.settings.onUp()
  }

  private fail(reason: string, dropConnection: boolean): void {
    if (this.closed) return // the master stops: what was in flight does not matter now
    if (this.failures++ === 0) {
      this.burstStart = this.sequence
      console.warn(`shared state (REDIS_URL) unavailable: ${reason}; this master goes on with its own state (further failures are counted)`)
    }
    if (dropConnection) {
      this.drop()
      this.reconnectTimer ??= setTimeout(() => void this.connect(), RECONNECT_MS)
      this.reconnectTimer.unref()
    }
  }

  private recover(): void {
    console.warn(`shared state (REDIS_URL) available again after ${this.failures} failure(s); sharing resumed`)
    this.failures = 0
    // Updates failed meanwhile, and a dropped subscription missed what others published: read everything again.
    this.settings.onUp()
  }

  /** Closes both connections: the commands in flight on them fail now, not at their timeout. */
  private drop(): void {
    this.generation++
    this.up = false
    const { commands, subscriber } = this
    this.commands = this.subscriber = undefined
    commands?.close()
    subscriber?.close()
  }

  private ping(): void {
    const subscriber = this.subscriber
    if (!this.up || !subscriber) return
    void this.run((client) => client.send('PING', []))
    const generation = this.generation
    timed(subscriber.ping()).catch((error: Error) => {
      if (generation === this.generation) this.fail(`the subscription: ${error.message}`, true)
    })
  }
}

/** Fails a promise that has not settled within COMMAND_TIMEOUT_MS. */
function timed<T>(promise: Promise<T>): Promise<T> {
  let timer: Timer | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${COMMAND_TIMEOUT_MS} ms`)), COMMAND_TIMEOUT_MS)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}
