import { ServerThread } from '../threads/server-thread'
import type { HubToIngest, IngestToHub } from './messages'
import type { FaultMessage, IngestFault } from '../faults/hooks'

const WORKER_URL = new URL('../../workers/ingest.ts', import.meta.url)

/**
 * The main thread's handle on the ingest Worker (the agents' port). `beforeAnswers` runs before
 * each batch of answers leaves for the agents.
 */
export const ingestThread = (beforeAnswers: () => void = () => {}) =>
  new ServerThread<HubToIngest | FaultMessage<IngestFault>, IngestToHub>(WORKER_URL, 'ingest', () => [], beforeAnswers)

export type IngestThread = ReturnType<typeof ingestThread>

