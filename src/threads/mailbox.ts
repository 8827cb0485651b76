/**
 * Every message between threads wakes the receiving thread, and on a small (virtual) machine a
 * wake-up costs far more than the message: under load the main thread spent most of its time
 * going to sleep and waking up. A mailbox gathers what one thread sends in one turn of its event
 * loop and posts it as one batch, so wake-ups fall as load rises. Alone, a message still leaves
 * in the same turn.
 */
export class Mailbox<T> {
  private pending: T[] = []
  private transfer: ArrayBuffer[] = []
  private scheduled = false

  constructor(
    private readonly post: (batch: T[], transfer: ArrayBuffer[]) => void,
    private readonly transferablesOf: (message: T) => ArrayBuffer[] = () => [],
  ) {}

  send(message: T): void {
    this.pending.push(message)
    this.transfer.push(...this.transferablesOf(message))
    if (this.scheduled) return
    this.scheduled = true
    setImmediate(this.flush)
  }

  /** Posts what is pending now (the mailbox does so by itself at the end of the turn). */
  readonly flush = (): void => {
    this.scheduled = false
    if (this.pending.length === 0) return
    const batch = this.pending
    const transfer = this.transfer
    this.pending = []
    this.transfer = []
    this.post(batch, transfer)
  }
}
