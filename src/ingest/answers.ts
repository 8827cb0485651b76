import { HttpError } from '../http/errors'

/**
 * What the DataHub says about a snapshot or a heartbeat. A refusal may carry its own status and
 * code (429 `too_many_clusters`); without them it is 503 `unavailable`.
 */
export interface HubAnswer {
  ok: boolean
  message?: string
  retryAfterSeconds?: number
  status?: number
  code?: string
}

/**
 * An agent never waits longer than this for the DataHub's answer: a lost answer (a bug, a
 * thread that hangs) must not hold a request, its connection and its bytes forever. A commit
 * normally takes milliseconds, under a full write queue seconds.
 */
export const ANSWER_DEADLINE_MS = 60_000

/**
 * Asks the DataHub and waits for its answer, at most `deadlineMs`, or until `abandon` aborts
 * (the ingest thread's hard stop). Either way the answer is never an ok, and `giveUp` tells the
 * asker to forget the request. Nor is it a 503: the snapshot is in the writer's queue and may
 * still be committed, and a 503 promises it was not. It is 504 `unconfirmed`, which says so; the
 * agent's retry is harmless either way (a snapshot not newer than the stored one changes nothing).
 */
export async function answerWithin<T extends HubAnswer>(
  ask: (giveUp: AbortSignal) => Promise<T>,
  deadlineMs: number,
  abandon: AbortSignal,
): Promise<T | HubAnswer> {
  const giveUp = new AbortController()
  let timer: ReturnType<typeof setTimeout> | undefined
  let onAbandon = () => {}
  let gaveUp = false
  const late = new Promise<HubAnswer>((resolve) => {
    const refuse = (answer: HubAnswer) => {
      gaveUp = true
      resolve(answer)
    }
    const unconfirmed = (why: string, retryAfterSeconds: number): HubAnswer => ({
      ok: false, status: 504, code: 'unconfirmed', retryAfterSeconds,
      message: `${why}: it may still be stored; sending it again is safe`,
    })
    timer = setTimeout(() => refuse(unconfirmed(`the master did not confirm this within ${deadlineMs / 1000} s`, 5)), deadlineMs)
    onAbandon = () => refuse(unconfirmed('the master is stopping before its writer confirmed this', 1))
    if (abandon.aborted) onAbandon()
    else abandon.addEventListener('abort', onAbandon)
  })
  try {
    const answer = await Promise.race([ask(giveUp.signal), late])
    if (gaveUp) giveUp.abort()
    return answer
  } finally {
    clearTimeout(timer)
    abandon.removeEventListener('abort', onAbandon)
  }
}

/** The error an agent gets for a refusal: the hub's status and code if it gave them, else 503. */
export function refusal(answer: HubAnswer, fallback: string): HttpError {
  return new HttpError(answer.status ?? 503, answer.code ?? 'unavailable', answer.message ?? fallback, {
    'retry-after': String(answer.retryAfterSeconds ?? 1),
  })
}
