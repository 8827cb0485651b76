/**
 * An agent that closes its connection mid-upload is not a fault of the master: a restarting pod,
 * a timeout on the agent's side, a network blip. Each used to log a 32-line `unexpected error:
 * DOMException` (65,604 lines for 2,000 slow connections). They are counted instead, and the
 * count is logged at most once per interval.
 */

/** Thrown by the body reader when the client went away; nobody is left to answer. */
export class ClientAborted extends Error {
  constructor() {
    super('the client closed the connection before its body was read')
  }
}

/** The first abort after a quiet spell is logged after this, so a burst becomes one line. */
const FIRST_LINE_AFTER_MS = 1_000
/** and after a line, the next one waits at least this long */
export const ABORT_LOG_INTERVAL_MS = 10_000

export class AbortLog {
  private count = 0
  private timer: ReturnType<typeof setTimeout> | undefined
  private lastLineAt = -Infinity

  constructor(
    private readonly log: (line: string) => void = (line) => console.warn(line),
    private readonly now: () => number = () => performance.now(),
  ) {}

  aborted(): void {
    this.count++
    if (this.timer) return
    const wait = Math.max(FIRST_LINE_AFTER_MS, this.lastLineAt + ABORT_LOG_INTERVAL_MS - this.now())
    this.timer = setTimeout(this.flush, wait)
  }

  /** Logs what was counted and not yet logged (also at stop, so no count is lost). */
  readonly flush = (): void => {
    clearTimeout(this.timer)
    this.timer = undefined
    if (this.count === 0) return
    this.log(
      this.count === 1
        ? '1 agent upload was aborted by its client'
        : `${this.count} agent uploads were aborted by their clients`,
    )
    this.count = 0
    this.lastLineAt = this.now()
  }
}
