import type { HubToWriter, WriterSettings, WriterToHub } from './messages'
import type { FaultMessage, WriterFault } from '../faults/hooks'
import { errorText } from '../threads/error-text'
import { Mailbox } from '../threads/mailbox'
import { transferablesOf } from '../storage/node-rows'

const WORKER_URL = new URL('../../workers/writer.ts', import.meta.url)
const RESTART_DELAY_MS = 100
const MAX_RESTART_DELAY_MS = 5_000

export interface WriterEvents {
  /** any message the writer sends, except the lifecycle ones this class handles */
  message(message: WriterToHub): void
  /** the writer is (again) ready to take writes; `restarted` is false the first time */
  ready(restarted: boolean): void
  /** the writer died or failed to open (`corrupt`: the file is damaged); pending writes are lost and must be failed */
  down(reason: string, corrupt: boolean): void
}

/** How a close ended: `committed` only when the writer said its queue is committed and the file closed. */
export type CloseResult = { committed: true } | { committed: false; reason: string }

/**
 * The main thread's handle on the writer Worker. It watches the Worker, restarts it when it
 * dies, and says so, because a message posted to a dead Worker is silently dropped.
 */
export class WriterThread {
  private worker: Worker | undefined
  private outbox: Mailbox<HubToWriter | FaultMessage<WriterFault>> | undefined
  private up = false
  private closing = false
  private failures = 0
  private restartTimer: Timer | undefined
  private everReady = false

  constructor(
    private readonly settings: WriterSettings,
    private readonly events: WriterEvents,
  ) {}

  get isUp(): boolean {
    return this.up
  }

  start(): void {
    const worker = new Worker(WORKER_URL.href)
    this.worker = worker
    // One outbox per Worker: what was bound for a dead writer must not reach its successor.
    this.outbox = new Mailbox<HubToWriter | FaultMessage<WriterFault>>(
      (batch, transfer) => worker.postMessage(batch, transfer),
      (message) => (message.type === 'write' ? transferablesOf(message.rows) : []),
    )
    worker.addEventListener('message', (event: MessageEvent<WriterToHub[]>) => {
      for (const message of event.data) this.onMessage(worker, message)
    })
    worker.addEventListener('error', (event) => this.onDeath(worker, `writer crashed: ${errorText(event)}`, false))
    worker.addEventListener('close', () => this.onDeath(worker, 'writer exited', false))
    this.post({ type: 'open', settings: this.settings }, true)
  }

  /** Posts to a live writer; returns false (and posts nothing) when it is down. */
  post(message: HubToWriter, evenIfDown = false): boolean {
    if (!this.worker || (!this.up && !evenIfDown)) return false
    this.outbox!.send(message)
    return true
  }

  /** Fault injection (src/faults): reaches the Worker only if the master was started with fault hooks. */
  inject(message: FaultMessage<WriterFault>): void {
    this.outbox?.send(message)
  }

  /**
   * Lets the writer commit what it has, checkpoint and close. Resolves when it has, when it dies,
   * or at the deadline (then it is terminated): whichever comes first, never later.
   */
  close(deadlineMs: number): Promise<CloseResult> {
    this.closing = true
    clearTimeout(this.restartTimer)
    const worker = this.worker
    const outbox = this.outbox
    if (!worker || !outbox || !this.up) {
      worker?.terminate()
      return Promise.resolve(worker ? { committed: false, reason: 'the writer was not up' } : { committed: true })
    }
    return new Promise((resolve) => {
      const finish = (result: CloseResult) => {
        clearTimeout(timer)
        worker.terminate()
        resolve(result)
      }
      const timer = setTimeout(() => finish({ committed: false, reason: `the writer did not close within ${deadlineMs} ms` }), deadlineMs)
      worker.addEventListener('message', (event: MessageEvent<WriterToHub[]>) => {
        if (event.data.some((message) => message.type === 'closed')) finish({ committed: true })
      })
      worker.addEventListener('error', (event) => finish({ committed: false, reason: `the writer crashed while closing: ${errorText(event)}` }))
      worker.addEventListener('close', () => finish({ committed: false, reason: 'the writer exited while closing' }))
      outbox.send({ type: 'close' })
    })
  }

  private onMessage(worker: Worker, message: WriterToHub): void {
    if (worker !== this.worker) return
    if (message.type === 'ready') {
      this.up = true
      this.failures = 0
      this.events.ready(this.everReady)
      this.everReady = true
    } else if (message.type === 'fatal') {
      this.onDeath(worker, message.message, message.corrupt === true)
    } else {
      this.events.message(message)
    }
  }

  private onDeath(worker: Worker, reason: string, corrupt: boolean): void {
    if (worker !== this.worker || this.closing) return
    this.worker = undefined
    this.up = false
    worker.terminate()
    this.events.down(reason, corrupt)
    const delay = Math.min(RESTART_DELAY_MS * 2 ** this.failures++, MAX_RESTART_DELAY_MS)
    this.restartTimer = setTimeout(() => this.start(), delay)
  }
}
