import { errorText } from './error-text'
import { Mailbox } from './mailbox'

/** The lifecycle messages every server Worker (ingest, gateway) sends its handle. */
export type ServerLifecycle = { type: 'listening'; port: number } | { type: 'failed'; message: string } | { type: 'stopped' }

/**
 * The main thread's handle on a Worker that serves HTTP: start it and learn its port, talk to it
 * in batches, learn of its death, and stop it within a deadline — a Worker that does not say
 * `stopped` in time is terminated, so no stop waits forever.
 */
export class ServerThread<ToWorker extends { type: string }, FromWorker extends { type: string }> {
  private readonly worker: Worker
  private readonly outbox: Mailbox<ToWorker>
  private stopping = false
  private dead = false
  private listening = false
  private settleStop: ((clean: boolean) => void) | undefined

  /** `beforePost` runs before each batch leaves: what must reach another thread first is sent then. */
  constructor(
    url: URL,
    private readonly name: string,
    transferablesOf: (message: ToWorker) => ArrayBuffer[] = () => [],
    beforePost: () => void = () => {},
  ) {
    this.worker = new Worker(url.href)
    this.outbox = new Mailbox<ToWorker>((batch, transfer) => {
      beforePost()
      this.worker.postMessage(batch, transfer)
    }, transferablesOf)
  }

  /**
   * Sends the start message; resolves with the bound port. `onMessage` gets every message but the
   * lifecycle ones; `onDeath` is told if the Worker dies once started (not when it is stopped).
   */
  start(
    startMessage: ToWorker,
    onMessage: (message: Exclude<FromWorker, ServerLifecycle>) => void,
    onDeath: (reason: string) => void = () => {},
  ): Promise<number> {
    return new Promise((resolve, reject) => {
      let started = false
      const died = (reason: string) => {
        this.settleStop?.(false)
        if (this.stopping || this.dead) return
        this.dead = true
        this.worker.terminate()
        if (!started) return reject(new Error(reason))
        onDeath(reason)
      }
      this.worker.addEventListener('message', (event: MessageEvent<(FromWorker | ServerLifecycle)[]>) => {
        // A dead Worker's late messages are not its successor's: nothing of it may answer anyone now.
        if (this.dead) return
        for (const message of event.data) {
          const lifecycle = message as ServerLifecycle
          if (lifecycle.type === 'listening') {
            started = true
            this.listening = true
            resolve(lifecycle.port)
          } else if (lifecycle.type === 'failed') {
            this.dead = true
            this.worker.terminate()
            reject(new Error(lifecycle.message))
          } else if (lifecycle.type === 'stopped') {
            this.settleStop?.(true)
          } else {
            onMessage(message as Exclude<FromWorker, ServerLifecycle>)
          }
        }
      })
      this.worker.addEventListener('error', (event) => died(`${this.name} thread crashed: ${errorText(event)}`))
      this.worker.addEventListener('close', () => died(`${this.name} thread exited`))
      this.outbox.send(startMessage)
    })
  }

  send(message: ToWorker): void {
    if (!this.dead) this.outbox.send(message)
  }

  /** Posts what is pending now instead of at the end of the turn. */
  flush(): void {
    if (!this.dead) this.outbox.flush()
  }

  /**
   * Asks the Worker to stop (it answers what is in flight) and ends it once it says so, or at the
   * deadline. Resolves true when it stopped by itself, false when it died or had to be terminated.
   */
  stop(stopMessage: ToWorker, deadlineMs: number): Promise<boolean> {
    this.stopping = true
    if (!this.listening) this.terminate() // nothing to answer: it never served
    if (this.dead) return Promise.resolve(true)
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish(false), deadlineMs)
      const finish = (clean: boolean) => {
        clearTimeout(timer)
        this.settleStop = undefined
        this.dead = true
        this.worker.terminate()
        resolve(clean)
      }
      this.settleStop = finish
      this.outbox.send(stopMessage)
    })
  }

  terminate(): void {
    this.stopping = true
    this.dead = true
    this.worker.terminate()
  }
}
