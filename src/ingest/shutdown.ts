import type { Server } from 'bun'

/** Requests that waited for their commit when the stop began get this long for their answer. */
export const STOP_ANSWER_WAIT_MS = 5_000
/** After the last answer, this long for it to leave and for Bun to close the connections itself. */
const STOP_FLUSH_MS = 250

/** The agent requests whose handlers are running, so a stop knows when they have all answered. */
export class HandlersInFlight {
  private count = 0
  private idle: (() => void)[] = []

  get size(): number {
    return this.count
  }

  async run<T>(handler: () => Promise<T>): Promise<T> {
    this.count++
    try {
      return await handler()
    } finally {
      if (--this.count === 0) for (const resolve of this.idle.splice(0)) resolve()
    }
  }

  whenIdle(): Promise<void> {
    return this.count === 0 ? Promise.resolve() : new Promise((resolve) => this.idle.push(resolve))
  }
}

export interface StopControls {
  /** aborted first: held command polls answer, unfinished bodies are no longer read (503, connection closed) */
  stopping: AbortController
  /** aborted at the deadline: requests still waiting for their commit are answered 503 */
  abandon: AbortController
}

/**
 * Stops the agents' server within STOP_ANSWER_WAIT_MS + a second, whatever the clients do.
 * Bun's graceful stop waits for every request, and a client that sends half its headers or its
 * body slowly keeps it waiting (29 s with 50 slow uploads); so the stop is graceful only towards
 * requests whose body was read — they were promised an answer after their commit — and forced
 * for the rest.
 */
export async function stopServer(server: Server<unknown> | null | undefined, handlers: HandlersInFlight, controls: StopControls): Promise<void> {
  controls.stopping.abort()
  // No new connections; Bun closes the idle keep-alive ones now, the others once they answer.
  const graceful = server?.stop(false) ?? Promise.resolve()
  if (!(await settlesWithin(handlers.whenIdle(), STOP_ANSWER_WAIT_MS))) {
    controls.abandon.abort()
    await settlesWithin(handlers.whenIdle(), STOP_FLUSH_MS)
  }
  await settlesWithin(graceful, STOP_FLUSH_MS)
  // The hard stop: a connection still open has no request the master owes an answer to.
  await server?.stop(true)
}

async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)))
  try {
    return await Promise.race([promise.then(() => true), timeout])
  } finally {
    clearTimeout(timer)
  }
}
