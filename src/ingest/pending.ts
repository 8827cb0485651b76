import type { HubAnswer } from './answers'

export type Answer = HubAnswer & { stored?: number }

/**
 * The ingest thread's requests waiting for the DataHub's answer, by request number (snapshots
 * and heartbeats share the numbering). A request that gives up waiting is forgotten, so an
 * answer that never comes leaves nothing behind, and one that comes late is dropped.
 */
export class PendingAnswers {
  private readonly waiting = new Map<number, (answer: Answer) => void>()
  private next = 1

  get size(): number {
    return this.waiting.size
  }

  /** Numbers a request, hands it to `send`, and resolves with its answer. */
  ask(send: (request: number) => void, giveUp?: AbortSignal): Promise<Answer> {
    return new Promise((resolve) => {
      const request = this.next++
      this.waiting.set(request, resolve)
      giveUp?.addEventListener('abort', () => this.waiting.delete(request), { once: true })
      send(request)
    })
  }

  answer(request: number, answer: Answer): void {
    const resolve = this.waiting.get(request)
    this.waiting.delete(request)
    resolve?.(answer)
  }
}
