import type { NotifyTarget } from '../../model/alerts'

/**
 * A target's identity in the outbox: its kind, URL and headers. A message waiting for a target
 * that is no longer configured (or now points elsewhere) is dropped rather than sent to a
 * stranger.
 */
export function targetKey(target: NotifyTarget): string {
  const headers = 'headers' in target && target.headers ? JSON.stringify(Object.entries(target.headers).sort()) : ''
  return `${target.type} ${target.url}${headers ? ` ${Bun.hash(headers).toString(16)}` : ''}`
}

/** Where a target's messages are POSTed. */
export function postUrl(target: NotifyTarget): string {
  return target.type === 'alertmanager' ? `${target.url.replace(/\/+$/, '')}/api/v2/alerts` : target.url
}

/**
 * A target as the API shows it: a URL's credentials and query, a webhook's path (where its secret often is) and
 * header values are hidden (whoever reads the API could post to the channel or the receiver).
 */
export function maskedTarget(target: NotifyTarget): NotifyTarget {
  let shown = target.url
  try {
    const url = new URL(target.url)
    // Webhook and Slack URLs often carry their secret in the path (Slack's, Discord's /api/webhooks/{id}/{token}).
    const path = target.type === 'alertmanager' || url.pathname.length <= 1 ? url.pathname : '/***'
    shown = `${url.protocol}//${url.username || url.password ? '***@' : ''}${url.host}${path}${url.search ? '?***' : ''}`
  } catch {
    shown = '***'
  }
  const headers = 'headers' in target && target.headers ? Object.fromEntries(Object.keys(target.headers).map((name) => [name, '***'])) : undefined
  return { ...target, url: shown, ...(headers ? { headers } : {}) } as NotifyTarget
}

/** Whether a PUT body sent back a masked target (GET's form) instead of the real one. */
export function isMasked(target: NotifyTarget): boolean {
  return target.url.includes('***') || ('headers' in target && Object.values(target.headers ?? {}).includes('***'))
}
