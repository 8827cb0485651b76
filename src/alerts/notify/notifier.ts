import type { NotifyTarget } from '../../model/alerts'
import type { AlertStore, OutboxMessage } from '../alert-store'
import type { AlertRecord } from '../evaluator'
import { alertmanagerBody, bodyFor, type AlertGroup } from './formats'
import { maskedTarget, postUrl, targetKey } from './targets'

/** A receiver gets this long to answer one message. */
const SEND_TIMEOUT_MS = 5_000
const FIRST_RETRY_MS = 1_000
const MAX_RETRY_MS = 60_000
/** A message no receiver took for this long is given up (and logged): the alert's state has moved on by then. */
const GIVE_UP_AFTER_MS = 24 * 3_600_000
/** Firing alerts go to each Alertmanager again this often, as Prometheus does, so they do not end there by themselves. */
export const ALERTMANAGER_REFRESH_MS = 60_000
/** At most this many alerts per POST of a refresh. */
const REFRESH_CHUNK = 1_000

export type NotifyCounts = Record<NotifyTarget['type'], { sent: number; failed: number }>

/**
 * Delivers notifications from the outbox of the alert store, never on the path of a sample: a
 * state change is stored with its messages (one transaction), then sent at once; a receiver that
 * fails or is down gets the message again with back-off (1 s doubling to a minute) until it takes
 * it. Each target gets its messages one at a time, oldest first, so a resolve never overtakes its
 * fire; targets do not wait for one another.
 */
export class Notifier {
  private targets = new Map<string, NotifyTarget>()
  private names = new Map<string, string>()
  private readonly busy = new Set<string>()
  private timer: Timer | undefined
  private stopped = false
  /** targets failing now, for one log line per burst */
  private readonly failing = new Set<string>()
  readonly counts: NotifyCounts = { webhook: { sent: 0, failed: 0 }, slack: { sent: 0, failed: 0 }, alertmanager: { sent: 0, failed: 0 } }

  constructor(
    private readonly store: AlertStore,
    private readonly now: () => number,
    /** told whenever `counts` change, for /metrics */
    private readonly counted: () => void,
  ) {}

  /** The configured targets; what waits for a target no longer among them is dropped. */
  setTargets(targets: readonly NotifyTarget[]): void {
    this.targets = new Map(targets.map((target) => [targetKey(target), target]))
    // Log lines name a target by its place and masked URL: two webhooks on one host read alike masked.
    this.names = new Map(targets.map((target, index) => [targetKey(target), `notify[${index}] ${target.type} ${maskedTarget(target).url}`]))
    const dropped = this.store.dropTargetsBut([...this.targets.keys()])
    if (dropped > 0) console.warn(`alerts: ${dropped} undelivered notification(s) for targets no longer configured were dropped`)
  }

  /** The outbox rows for these groups: one message per group and target. Stored by the caller with the state changes. */
  messagesFor(groups: readonly AlertGroup[], externalUrl: string): { target: string; body: string }[] {
    const now = this.now()
    const messages: { target: string; body: string }[] = []
    for (const [key, target] of this.targets) {
      for (const group of groups) messages.push({ target: key, body: JSON.stringify(bodyFor(target, group, externalUrl, now)) })
    }
    return messages
  }

  /** Sends what is due now; called after new messages are stored and by its own timer for retries. */
  readonly pump = (): void => {
    if (this.stopped) return
    clearTimeout(this.timer)
    const now = this.now()
    let next = Infinity
    for (const message of this.store.heads(this.targets.keys())) {
      if (this.busy.has(message.target)) continue
      if (message.nextMs > now) {
        next = Math.min(next, message.nextMs)
        continue
      }
      this.busy.add(message.target)
      void this.send(message).finally(() => {
        this.busy.delete(message.target)
        this.pump()
      })
    }
    if (next !== Infinity) this.timer = setTimeout(this.pump, Math.max(10, next - now))
  }

  /**
   * Every firing alert to every Alertmanager again (not through the outbox: the next refresh is the
   * retry). It takes its turn with the target's messages: a target busy or with messages waiting is
   * refreshed by those, and the list is read when the target is free, so a resolve never goes out
   * before a refresh that still calls the alert firing.
   */
  async refreshAlertmanagers(firing: () => readonly AlertRecord[], externalUrl: string): Promise<void> {
    for (const [key, target] of this.targets) {
      if (this.stopped) return
      if (target.type !== 'alertmanager' || this.busy.has(key) || this.store.heads([key]).length > 0) continue
      this.busy.add(key)
      try {
        const alerts = firing()
        for (let start = 0; start < alerts.length && !this.stopped; start += REFRESH_CHUNK) {
          const body = JSON.stringify(alertmanagerBody(alerts.slice(start, start + REFRESH_CHUNK), externalUrl, this.now()))
          // One failure ends this target's refresh: the next one, a minute on, is the retry.
          if ((await this.post(key, target, body)).result !== 'taken') break
        }
      } finally {
        this.busy.delete(key)
      }
      this.pump() // what was stored for this target meanwhile goes now, not after the other targets' refreshes
    }
  }

  stop(): void {
    this.stopped = true
    clearTimeout(this.timer)
  }

  private async send(message: OutboxMessage): Promise<void> {
    const target = this.targets.get(message.target)
    if (!target) return this.store.delivered(message.id) // its target was removed meanwhile
    const outcome = await this.post(message.target, target, this.store.body(message.id))
    if (this.stopped) return // the store is closed: the message is delivered (again, if it was taken) after the next start
    // The same body would be refused again (a 4xx, a redirect), and holding it would hold back every later message of the target.
    if (outcome.result === 'taken' || outcome.result === 'refused') return this.store.delivered(message.id)
    const now = this.now()
    if (now - message.createdMs >= GIVE_UP_AFTER_MS) {
      console.error(`alerts: gave up a notification to ${this.names.get(message.target)} after ${message.attempts + 1} attempts over 24 h`)
      return this.store.delivered(message.id)
    }
    // A receiver that says when to come back (429, 503 with Retry-After) is taken at its word, within an hour.
    const delay = outcome.retryAfterMs ?? Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** message.attempts)
    this.store.retryLater(message.id, message.attempts + 1, now + delay)
  }

  /**
   * One POST: `taken` (2xx); `refused` for good — a 4xx other than 408 and 429 (the same body would
   * be refused again, as Prometheus's notifier treats it) or a redirect (not followed: a 301/302
   * would turn the POST into a GET without its body, and a receiver could send the master's request
   * anywhere) —; or `failed` (5xx, no answer: retried, after Retry-After when it says one).
   */
  private async post(key: string, target: NotifyTarget, body: string): Promise<{ result: 'taken' | 'refused' | 'failed'; retryAfterMs?: number }> {
    let problem: string | undefined
    let permanent = false
    let retryAfterMs: number | undefined
    try {
      const response = await fetch(postUrl(target), {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'node-metrics-master', ...('headers' in target ? target.headers : {}) },
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(SEND_TIMEOUT_MS),
      })
      if (!response.ok) {
        const redirect = response.status >= 300 && response.status < 400
        problem = redirect
          ? `HTTP ${response.status}, a redirect (not followed: configure the final URL)`
          : `HTTP ${response.status}: ${(await readSome(response)).trim()}`
        permanent = redirect || (response.status >= 400 && response.status < 500 && response.status !== 408 && response.status !== 429)
        retryAfterMs = retryAfter(response.headers.get('retry-after'))
      }
      await response.body?.cancel().catch(() => {})
    } catch (error) {
      problem = (error as Error).name === 'TimeoutError' ? `no answer in ${SEND_TIMEOUT_MS / 1000} s` : (error as Error).message
    }
    const counts = this.counts[target.type]
    // One line per burst of failures of a target, and one when it takes messages again; URLs as the API shows them (their secrets hidden).
    if (problem === undefined) {
      counts.sent++
      if (this.failing.delete(key)) console.warn(`alerts: ${this.names.get(key)} takes notifications again`)
    } else {
      counts.failed++
      if (!this.failing.has(key)) {
        console.error(`alerts: ${this.names.get(key)}: ${problem}; ${permanent ? 'refused for good: such messages are dropped (check its URL and headers)' : 'retrying with back-off'}`)
      }
      this.failing.add(key)
    }
    this.counted()
    return { result: problem === undefined ? 'taken' : permanent ? 'refused' : 'failed', retryAfterMs }
  }
}

/** Retry-After in seconds (an HTTP date is rare from webhooks and is ignored), at most an hour. */
function retryAfter(header: string | null): number | undefined {
  if (header === null || !/^\d+$/.test(header.trim())) return undefined
  return Math.min(3_600_000, Math.max(FIRST_RETRY_MS, Number(header.trim()) * 1000))
}

/** The start of an error answer, for the log: a receiver that answers megabytes is not read to the end. */
async function readSome(response: Response, limit = 200): Promise<string> {
  const reader = response.body?.getReader()
  if (!reader) return ''
  const { value } = await reader.read()
  await reader.cancel().catch(() => {})
  return new TextDecoder().decode(value?.subarray(0, limit) ?? new Uint8Array())
}
