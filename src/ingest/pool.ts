import type { FaultMessage, IngestFault } from '../faults/hooks'
import type { ServerLifecycle } from '../threads/server-thread'
import { probePort } from '../threads/port-probe'
import { AbortLog } from './aborts'
import { reclaimThread, sharedBudgetMemory } from './inflight'
import type { HubToIngest, IngestToHub } from './messages'
import { ingestThread, type IngestThread } from './thread'

type StartMessage = Extract<HubToIngest, { type: 'start' }>
export type IngestStartSettings = Omit<StartMessage, 'type' | 'thread' | 'inflightMemory'>
export type IngestMessage = Exclude<IngestToHub, ServerLifecycle | { type: 'aborted' }>

export interface IngestPoolLinks {
  /** a message of thread `thread`; a dead Worker's late messages never get here */
  message(thread: number, message: IngestMessage): void
  /** thread `thread` died: its requests in flight died with it, nobody is left to answer */
  lost(thread: number): void
  /** runs before each batch of answers leaves for an ingest thread */
  beforeAnswers(): void
}

/**
 * INGEST_THREADS ingest Workers on one port: each binds it with SO_REUSEPORT and the kernel
 * spreads the agents' connections over them. Each has an index, and the DataHub answers a
 * request through the thread that holds it. A thread that dies is replaced on the same port,
 * alone; the others serve on meanwhile.
 */
export class IngestPool {
  private readonly threads: IngestThread[] = []
  /** MAX_INFLIGHT_BYTES is one budget for all threads (inflight.ts) */
  private readonly inflightMemory: SharedArrayBuffer
  /** client aborts of all threads: one line per burst, however the kernel spread the connections */
  private readonly aborts = new AbortLog()
  private stopping = false
  private boundPort = 0

  constructor(
    readonly size: number,
    private readonly settings: IngestStartSettings,
    private readonly links: IngestPoolLinks,
    private readonly stopMs: number,
  ) {
    this.inflightMemory = sharedBudgetMemory(size)
  }

  /**
   * Starts every thread; resolves with the port. The first binds the configured port (with 0, a
   * free one) and the others the port it got. Fails with `cannot listen on …` if the port is taken.
   */
  async start(): Promise<number> {
    try {
      probePort(this.settings.host, this.settings.port)
      this.boundPort = await this.startThread(0, this.settings.port)
      await Promise.all(Array.from({ length: this.size - 1 }, (_, index) => this.startThread(index + 1, this.boundPort)))
    } catch (error) {
      this.terminate()
      throw error
    }
    return this.boundPort
  }

  send(thread: number, message: HubToIngest): void {
    this.threads[thread]?.send(message)
  }

  /** Fault injection: thread `thread` throws, as a bug would make it; without an index, every thread does. */
  crash(thread?: number): void {
    const fault: FaultMessage<IngestFault> = { type: 'fault', fault: { kind: 'crash' } }
    for (const [index, live] of this.threads.entries()) if (thread === undefined || thread === index) live.send(fault)
  }

  /** Stops every thread at once, each within the deadline; resolves with those that had to be ended. */
  async stop(): Promise<number[]> {
    this.stopping = true
    const clean = await Promise.all(this.threads.map((thread) => thread.stop({ type: 'stop' }, this.stopMs)))
    this.aborts.flush()
    return clean.flatMap((stopped, index) => (stopped ? [] : [index]))
  }

  terminate(): void {
    this.stopping = true
    for (const thread of this.threads) thread.terminate()
  }

  private startThread(index: number, port: number): Promise<number> {
    const thread = ingestThread(this.links.beforeAnswers)
    // Its own from now on: the answer to its first request may leave before `listening` is handled.
    this.threads[index] = thread
    const start: StartMessage = { ...this.settings, type: 'start', port, thread: index, inflightMemory: this.inflightMemory }
    return thread.start(
      start,
      (message) => (message.type === 'aborted' ? this.aborts.aborted() : this.links.message(index, message)),
      (reason) => void this.restart(index, reason),
    )
  }

  /**
   * A dead thread would leave the connections the kernel hands its socket unanswered: start another
   * on the same port. Its requests in flight die with it (never acknowledged; agents retry); the
   * DataHub must not answer the new thread's requests with the old one's commits.
   */
  private async restart(index: number, reason: string): Promise<void> {
    this.links.lost(index)
    reclaimThread(this.inflightMemory, index)
    console.error(`${reason}; restarting the ingest thread ${index}`)
    for (let attempt = 0; !this.stopping; attempt++) {
      try {
        // A stop from here on finds the new thread in `threads` and stops it too.
        await this.startThread(index, this.boundPort)
        return
      } catch (error) {
        this.threads[index]!.terminate()
        console.error(`ingest restart failed: ${(error as Error).message}`)
        await Bun.sleep(Math.min(100 * 2 ** attempt, 5_000))
      }
    }
  }
}
