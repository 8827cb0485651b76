import { Mailbox } from '../messages/mailbox'
import type { HubToIngest, IngestToHub } from '../messages/ingest'

const WORKER_URL = new URL('../../workers/ingest.ts', import.meta.url)

type StartSettings = Omit<Extract<HubToIngest, { type: 'start' }>, 'type'>

/** The main thread's handle on the ingest Worker: start it, talk to it in batches, stop it. */
export class IngestThread {
  private readonly worker = new Worker(WORKER_URL.href)
  private readonly outbox = new Mailbox<HubToIngest>((batch) => this.worker.postMessage(batch))

  private stopping = false
  private dead = false

  /**
   * `onMessage` gets every message but the lifecycle ones; resolves with the bound port.
   * `onDeath` is told if the Worker dies once started (not when it is stopped).
   */
  start(settings: StartSettings, onMessage: (message: IngestToHub) => void, onDeath: (reason: string) => void = () => {}): Promise<number> {
    return new Promise((resolve, reject) => {
      let started = false
      const died = (reason: string) => {
        if (this.stopping || this.dead) return
        if (!started) return reject(new Error(reason))
        this.dead = true
        this.worker.terminate()
        onDeath(reason)
      }
      this.worker.addEventListener('message', (event: MessageEvent<IngestToHub[]>) => {
        for (const message of event.data) {
          if (message.type === 'listening') {
            started = true
            resolve(message.port)
          }
          else if (message.type === 'failed') reject(new Error(message.message))
          else onMessage(message)
        }
      })
      this.worker.addEventListener('error', (event) => died(`ingest thread crashed: ${(event as ErrorEvent).message}`))
      this.worker.addEventListener('close', () => died('ingest thread exited'))
      this.outbox.send({ type: 'start', ...settings })
    })
  }

  send(message: HubToIngest): void {
    this.outbox.send(message)
  }

  /** Stops accepting, lets the requests in flight be answered, then ends the Worker. */
  stop(): Promise<void> {
    this.stopping = true
    if (this.dead) return Promise.resolve()
    return new Promise((resolve) => {
      this.worker.addEventListener('message', (event: MessageEvent<IngestToHub[]>) => {
        if (!event.data.some((message) => message.type === 'stopped')) return
        this.worker.terminate()
        resolve()
      })
      this.outbox.send({ type: 'stop' })
    })
  }

  terminate(): void {
    this.stopping = true
    this.worker.terminate()
  }
}
