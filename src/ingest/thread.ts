import { ServerThread } from '../threads/server-thread'
import type { HubToIngest, IngestToHub } from './messages'
import type { FaultMessage, IngestFault } from '../faults/hooks'

const WORKER_URL = new URL('../../workers/ingest.ts', import.meta.url)

/** The main thread's handle on the ingest Worker (the agents' port). */
export const ingestThread = () => new ServerThread<HubToIngest | FaultMessage<IngestFault>, IngestToHub>(WORKER_URL, 'ingest')

export type IngestThread = ReturnType<typeof ingestThread>

