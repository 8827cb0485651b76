import { errorText } from '../threads/error-text'
import { Mailbox } from '../threads/mailbox'
import type { AlertSettings, AlertsToHub, HubToAlerts } from './messages'

const WORKER_URL = new URL('../../workers/alerts.ts', import.meta.url)
const MAX_RESTART_DELAY_MS = 5_000

/**
 * The main thread's handle on the alerts Worker. A Worker that dies is started again: its state is
 * in its own file, so it carries on where it was. What was posted to it while it was down (a few
 * samples) is judged with the next ones; nothing an agent waits for goes through it.
 */
export class AlertsThread {
  private worker: Worker | undefined
  private outbox: Mailbox<HubToAlerts> | undefined
  private up = false
  private stopping = false
  private failures = 0
  private restartTimer: Timer | undefined

  constructor(
    private readonly settings: AlertSettings,
    private readonly onMessage: (message: Exclude<AlertsToHub, { type: 'ready' | 'failed' | 'stopped' }>) => void,
  ) {}

  /** Resolves once the actor has opened its file and put its rules in force; rejects if it cannot. */
  start(): Promise<void> {
    return new Promise((resolve, reject) => this.spawn(resolve, reject))
  }

  send(message: HubToAlerts): void {
    if (this.up) this.outbox!.send(message)
  }

  /** Lets the actor store what it holds and close its file; terminated at the deadline. */
  stop(deadlineMs: number): Promise<void> {
    this.stopping = true
    clearTimeout(this.restartTimer)
    const worker = this.worker
    if (!worker || !this.up) {
      worker?.terminate()
      return Promise.resolve()
    }
    return new Promise((resolve) => {
      const finish = () => {
        clearTimeout(timer)
        worker.terminate()
        resolve()
      }
      const timer = setTimeout(finish, deadlineMs)
      worker.addEventListener('message', (event: MessageEvent<AlertsToHub[]>) => {
        if (event.data.some((message) => message.type === 'stopped')) finish()
      })
      worker.addEventListener('close', finish)
      this.outbox!.send({ type: 'stop' })
    })
  }

  private spawn(ready: () => void = () => {}, failed: (error: Error) => void = () => {}): void {
    const worker = new Worker(WORKER_URL.href)
    this.worker = worker
    this.outbox = new Mailbox<HubToAlerts>((batch) => worker.postMessage(batch))
    let started = false
    const died = (reason: string) => {
      if (worker !== this.worker || this.stopping) return
      this.up = false
      worker.terminate()
      if (!started) return failed(new Error(reason))
      console.error(`${reason}; restarting the alerts thread`)
      const delay = Math.min(100 * 2 ** this.failures++, MAX_RESTART_DELAY_MS)
      this.restartTimer = setTimeout(() => this.spawn(), delay)
    }
    worker.addEventListener('message', (event: MessageEvent<AlertsToHub[]>) => {
      if (worker !== this.worker) return
      for (const message of event.data) {
        if (message.type === 'ready') {
          started = true
          this.up = true
          this.failures = 0
          ready()
        } else if (message.type === 'failed') {
          died(message.message)
        } else if (message.type !== 'stopped') {
          this.onMessage(message)
        }
      }
    })
    worker.addEventListener('error', (event) => died(`alerts thread crashed: ${errorText(event)}`))
    worker.addEventListener('close', () => died('alerts thread exited'))
    this.outbox.send({ type: 'start', settings: this.settings })
  }
}
