import { RedisClient } from 'bun'
import { redisRefusal } from './redis-refusal'

/** A connection attempt gives up after this long (Redis down, or a host that drops packets). */
const CONNECT_TIMEOUT_MS = 2_000
/** A command not answered in this long (Redis stopped, not closed) fails, and the connections are dropped. */
export const COMMAND_TIMEOUT_MS = 2_000
/** While Redis cannot be reached, a new connection is tried this often. */
const RECONNECT_MS = 500
/**
 * The link is checked this often (LinkSettings.checkMs): a Redis that went silent is noticed without
 * traffic, one that refused writes is found taking them again, and one that lost its keys is filled again.
 */
const CHECK_MS = 5_000
/** The marker key lives this long past a check, at least three checks: a master busy or paused that long misses none. */
const MARKER_LIFE_MS = 60_000
/** Bytes in flight (envelopes, mostly) past which `hasRoom` says no: the callers hold their updates back (redis-state.ts). */
const MAX_IN_FLIGHT_BYTES = 64 * 1024 * 1024
/** Commands in flight at most, whatever their size; beyond, a command fails at once rather than queue (a safety net). */
const MAX_IN_FLIGHT = 50_000

export interface LinkSettings {
  url: string
  channel: string
  /**
   * A key of this master's alone, written at every (re)connection and check: its absence at a check
   * means Redis lost its keys meanwhile (FLUSHALL, keys deleted, a restart faster than a check).
   */
  markerKey: string
  /** how often the link is checked (CHECK_MS); tests shorten it */
  checkMs?: number
  /** a message published on the channel */
  onMessage(message: string): void
  /**
   * Time to read everything and share again what Redis lacks: both connections are (again) open and
   * subscribed, Redis takes writes again after refusing them, or it lost its keys.
   */
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
 * it recovers: at a reconnection, or when a write succeeds again. Only the check's own write (the
 * marker) says so: a read, or a script that happened to write nothing, succeeds on a Redis that is
 * full (maxmemory, noeviction) and refuses every update; counting them as a recovery would log a
 * line, and re-send every cluster Redis lacks, at every check.
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
  /** whether this burst's cause was asked of Redis by hand and found (redis-refusal.ts): asked until it is */
  private explained = false
  private closed = false
  private checking = false
  private inFlight = 0
  private inFlightBytes = 0
  private reconnectTimer?: Timer
  private readonly checkTimer: Timer
  private readonly markerLifeMs: number

  constructor(private readonly settings: LinkSettings) {
    const checkMs = settings.checkMs ?? CHECK_MS
    this.markerLifeMs = Math.max(MARKER_LIFE_MS, 3 * checkMs)
    this.checkTimer = setInterval(() => void this.check(), checkMs)
    this.checkTimer.unref()
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
    return (await this.attempt(command, bytes))?.result
  }

  /** As `run`, with when the command was sent: which connection, and its place among the commands. */
  private async attempt<T>(command: (client: RedisClient) => Promise<T>, bytes = 0) {
    const client = this.commands
    if (this.closed) return undefined
    if (!this.up || !client) return void this.fail('not connected', false)
    if (this.inFlight >= MAX_IN_FLIGHT) return void this.fail(`Redis is behind: ${this.inFlight} commands in flight`, false)
    const generation = this.generation
    const sequence = ++this.sequence
    this.inFlight++
    this.inFlightBytes += bytes
    try {
      return { result: await timed(command(client)), generation, sequence }
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
    clearInterval(this.checkTimer)
    clearTimeout(this.reconnectTimer)
    this.drop()
  }

  private async connect(): Promise<void> {
    this.reconnectTimer = undefined
    const generation = ++this.generation
    const options = { connectionTimeout: CONNECT_TIMEOUT_MS, autoReconnect: false, enableOfflineQueue: false }
    const commands = (this.commands = new RedisClient(this.settings.url, options))
    const subscriber = (this.subscriber = new RedisClient(this.settings.url, options))
    try {
      await timed(Promise.all([commands.connect(), subscriber.connect()]))
      // Set once open: a connection that fails to open is reported below, with what Redis said.
      const lost = () => {
        if (generation === this.generation) this.fail('the connection was closed', true)
      }
      commands.onclose = lost
      subscriber.onclose = lost
      await timed(subscriber.subscribe(this.settings.channel, (message) => {
        if (generation === this.generation) this.settings.onMessage(message)
      }))
    } catch (error) {
      if (generation === this.generation) await this.failToConnect(generation, (error as Error).message)
      return
    }
    if (generation !== this.generation) return
    this.up = true
    // The marker first, then everything is read: keys lost after this are found missing at a check.
    const marked = await this.mark()
    if (generation !== this.generation) return
    if (marked && this.failures > 0) this.recovered()
    // Read even when the marker could not be written (a full Redis): what others shared is there to read.
    this.settings.onUp()
  }

  /**
   * A connection that could not be made. Bun's client says "Connection closed" whether Redis is down or
   * refused the handshake, so Redis is asked by hand what it says (once it has said something, not again
   * in this burst): a wrong password is logged as Redis put it, at the burst's start or when it is found.
   */
  private async failToConnect(generation: number, message: string): Promise<void> {
    const refusal = this.explained ? undefined : await redisRefusal(this.settings.url, CONNECT_TIMEOUT_MS)
    if (generation !== this.generation || this.closed) return
    if (refusal) {
      this.explained = true
      const reason = `Redis refused the connection: ${refusal}`
      if (this.failures > 0) console.warn(`shared state (REDIS_URL) still unavailable: ${reason} (further failures are counted)`)
      return this.fail(reason, true)
    }
    this.fail(message, true)
  }

  /** Writes the marker key; its previous value (null: it was missing) and when it was sent, or undefined when it failed. */
  private mark() {
    return this.attempt((client) => client.send('SET', [this.settings.markerKey, '1', 'PX', String(this.markerLifeMs), 'GET']) as Promise<string | null>)
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

  /** The burst is over; the caller reads everything again (updates failed meanwhile, a dropped subscription missed what others published). */
  private recovered(): void {
    console.warn(`shared state (REDIS_URL) available again after ${this.failures} failure(s); sharing resumed`)
    this.failures = 0
    this.explained = false
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

  /**
   * The periodic check: the subscription answers a ping, and the marker is written again. That write
   * succeeding ends a burst of refused commands (a full Redis taking writes again); the marker found
   * missing means Redis lost its keys since the last check, and everything is shared again. Either
   * way one read of everything follows, and nothing is re-sent in the normal case.
   */
  private async check(): Promise<void> {
    const subscriber = this.subscriber
    if (!this.up || !subscriber || this.checking) return
    const generation = this.generation
    timed(subscriber.ping()).catch((error: Error) => {
      if (generation === this.generation) this.fail(`the subscription: ${error.message}`, true)
    })
    this.checking = true
    const marked = await this.mark().finally(() => (this.checking = false))
    // Said on the current connection (a reconnection reads everything anyway), and, for a burst, sent
    // after it began: a command sent before may just have been answered late.
    if (!marked || marked.generation !== this.generation) return
    if (this.failures > 0) {
      if (marked.sequence <= this.burstStart) return
      this.recovered()
    } else if (marked.result !== null) return
    else console.warn('shared state (REDIS_URL) lost its keys (FLUSHALL, keys deleted, or a restart without persistence): this master shares again what it holds')
    this.settings.onUp()
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
