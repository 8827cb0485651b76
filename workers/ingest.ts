/**
 * Ingest thread: the agents' HTTP port, one of INGEST_THREADS sharing it. It parses, validates
 * and prepares snapshots here, off the main thread, and answers each agent only once the DataHub
 * says its data is committed.
 */
import { ingestApp } from '../src/ingest/app'
import { Mailbox } from '../src/threads/mailbox'
import type { HubToIngest, IngestToHub } from '../src/ingest/messages'
import { isFault, type FaultMessage, type IngestFault } from '../src/faults/hooks'
import { transferablesOf } from '../src/storage/node-rows'
import { InflightBudget } from '../src/ingest/inflight'
import { PendingAnswers } from '../src/ingest/pending'
import { HandlersInFlight, stopServer } from '../src/ingest/shutdown'

declare const self: Worker

const pending = new PendingAnswers()
let app: ReturnType<typeof ingestApp> | undefined
const stopping = new AbortController()
const abandon = new AbortController()
const handlers = new HandlersInFlight()

const outbox = new Mailbox<IngestToHub>(
  (batch, transfer) => self.postMessage(batch, transfer),
  (message) => (message.type === 'snapshot' ? [message.envelope.buffer as ArrayBuffer, ...transferablesOf(message.rows)] : []),
)
const send = (message: IngestToHub) => outbox.send(message)

/** Requests, rejections and dropped figures are counted here and reported once a second, not one message per request. */
const REPORT_INTERVAL_MS = 1_000
let requests = 0
let rejections: Record<string, number> = {}
let dropped: Record<string, Record<string, number>> = {}
setInterval(() => {
  if (requests > 0) send({ type: 'requests', count: requests })
  if (Object.keys(rejections).length > 0) send({ type: 'rejections', counts: rejections })
  if (Object.keys(dropped).length > 0) send({ type: 'dropped', counts: dropped })
  requests = 0
  rejections = {}
  dropped = {}
}, REPORT_INTERVAL_MS)

function start(message: Extract<HubToIngest, { type: 'start' }>): void {
  const budget = new InflightBudget(message.maxInflightBytes, { memory: message.inflightMemory, thread: message.thread })
  app = ingestApp(message, {
    submit: (snapshot, giveUp) => pending.ask((request) => send({ type: 'snapshot', request, ...snapshot }), giveUp),
    heartbeat: (clusterId, at, giveUp) => pending.ask((request) => send({ type: 'heartbeat', request, clusterId, at }), giveUp),
    rejected: (code) => void (rejections[code] = (rejections[code] ?? 0) + 1),
    acknowledged: () => send({ type: 'acknowledged' }),
    received: () => void requests++,
    dropped: (drops) => {
      for (const { field, reason } of drops) {
        const reasons = (dropped[field] ??= {})
        reasons[reason] = (reasons[reason] ?? 0) + 1
      }
    },
  }, { stopping: stopping.signal, abandon: abandon.signal, budget, handlers, aborts: { aborted: () => send({ type: 'aborted' }) } })
  try {
    app.listen({
      hostname: message.host,
      port: message.port,
      // INGEST_THREADS threads share the port; the kernel spreads the connections over them.
      reusePort: true,
      // An error that escapes a handler gets a bare 500, never Bun's development page with source and paths.
      development: false,
      // Only a backstop: the body reader answers an oversized body itself, with a JSON error.
      maxRequestBodySize: message.maxBodyBytes * 2 + 1024 * 1024,
    })
  } catch (error) {
    send({ type: 'failed', message: `cannot listen on ${message.host}:${message.port}: ${(error as Error).message}` })
    return
  }
  send({ type: 'listening', port: app.server!.port! })
}

/** Answers what waits for its commit, drops what was never acknowledged, within a bounded time. */
async function stop(): Promise<void> {
  await stopServer(app?.server, handlers, { stopping, abandon })
  send({ type: 'stopped' })
}

let faultHooks = false

self.onmessage = (event: MessageEvent<(HubToIngest | FaultMessage<IngestFault>)[]>) => {
  for (const message of event.data) {
    if (!isFault<IngestFault>(message)) handle(message)
    else if (faultHooks) throw new Error('injected ingest crash')
  }
}

function handle(message: HubToIngest): void {
  switch (message.type) {
    case 'start':
      faultHooks = message.faultHooks === true
      return start(message)
    case 'answer': {
      const { request, type, ...answer } = message
      return pending.answer(request, answer)
    }
    case 'stop':
      return void stop()
  }
}
