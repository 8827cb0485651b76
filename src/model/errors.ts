import { Type } from '@sinclair/typebox'
import { t, type Static } from 'elysia'

/** Every rejection the master gives, on either port. */
export const ErrorBody = t.Object({
  error: t.String({ description: 'stable machine-readable code, e.g. invalid_body' }),
  message: t.String({ description: 'what was wrong, for a person' }),
})
export type ErrorBody = Static<typeof ErrorBody>

/** An agent's 200: committed. `nodes` makes a snapshot that carried no node metrics visible. */
export const AgentAck = t.Object({
  status: t.Literal('ok'),
  nodes: Type.Integer({ description: 'node snapshots stored from this request' }),
  not_newer: t.Optional(
    Type.Integer({ description: "node snapshots not newer than their node's stored one (a retry, a clock that went back): they changed nothing" }),
  ),
  dropped: t.Optional(
    t.Array(t.Object({ path: t.String({ description: 'JSON path in the body' }), reason: t.String() }), {
      description: 'values left out of the derived figures (summary, history, /metrics); the snapshots are stored as sent. At most 100 are named',
    }),
  ),
  dropped_total: t.Optional(Type.Integer({ description: 'how many values were left out, named or not' })),
})

export const Health = t.Object({
  status: t.Union([t.Literal('ok'), t.Literal('degraded')], { description: 'degraded (answered 503) while writes fail or reads error' }),
  writer: t.Union([t.Literal('up'), t.Literal('down'), t.Literal('failing'), t.Literal('stalled')], {
    description:
      'up; down: the writer thread died and is being restarted; failing: its transactions fail (disk full, read-only file, …); ' +
      'stalled: it has confirmed nothing for 30 s while holding writes',
  }),
  reads: t.Union([t.Literal('ok'), t.Literal('failing')], { description: "the gateway's read connection answers queries" }),
  reason: t.Optional(t.String({ description: 'what is wrong, while degraded' })),
  clusters: Type.Integer({ description: 'clusters known to the DataHub (snapshot or heartbeat)' }),
})
export type Health = Static<typeof Health>
