import { Type } from '@sinclair/typebox'
import { t, type Static } from 'elysia'

/** Every rejection the master gives, on either port. */
export const ErrorBody = t.Object({
  error: t.String({ description: 'stable machine-readable code, e.g. invalid_body' }),
  message: t.String({ description: 'what was wrong, for a person' }),
})
export type ErrorBody = Static<typeof ErrorBody>

export const AgentAck = t.Object({ status: t.Literal('ok') })

export const Health = t.Object({
  status: t.Union([t.Literal('ok'), t.Literal('degraded')]),
  writer: t.Union([t.Literal('up'), t.Literal('down')]),
  clusters: Type.Integer({ description: 'clusters known to the DataHub (snapshot or heartbeat)' }),
})
export type Health = Static<typeof Health>
