/**
 * Fault injection, for the fault tests only. These messages are not part of any production
 * channel: a Worker acts on them only when the master was started with `faultHooks` (which only
 * the tests do), and ignores them otherwise.
 */
export type WriterFault =
  /** throw out of the message handler: the Worker dies as it would on a bug */
  | { kind: 'crash' }
  /** sleep this long before every transaction: a writer that falls behind */
  | { kind: 'delay'; ms: number }
  /** cap the file at its current size (PRAGMA max_page_count): writes fail with SQLITE_FULL until lifted */
  | { kind: 'disk-full'; on: boolean }
  /** refuse writes (PRAGMA query_only): writes fail with SQLITE_READONLY until lifted */
  | { kind: 'read-only'; on: boolean }
  /** die on the close message: a Worker that dies during shutdown */
  | { kind: 'crash-on-close' }

/** reads-fail: the gateway's read connection is closed under it, as on a file gone bad; crash: it throws */
export type GatewayFault = { kind: 'reads-fail' } | { kind: 'crash' }

/** The ingest thread throws out of its message handler, as a bug would make it. */
export type IngestFault = { kind: 'crash' }

/** A fault message for one actor: its Worker takes only its own kinds. */
export type FaultMessage<Fault = WriterFault | GatewayFault | IngestFault> = { type: 'fault'; fault: Fault }

export const isFault = <Fault>(message: { type: string }): message is FaultMessage<Fault> => message.type === 'fault'
