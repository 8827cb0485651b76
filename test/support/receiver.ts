/**
 * A notification receiver for the alert tests: a real HTTP server that records what it is sent,
 * by path, and can be told to refuse (503) or to hang (never answer) for a while.
 */
export interface Receiver {
  url: string
  /** bodies taken (2xx answered), by path, in arrival order */
  taken(path: string): any[]
  /** requests that reached it, refused or hung included */
  attempts(path: string): number
  /** refuse: 503 (retried); reject: 400 (refused for good); hang: never answers */
  mode: 'take' | 'refuse' | 'reject' | 'hang'
  stop(): void
}

export function startReceiver(): Receiver {
  const taken = new Map<string, any[]>()
  const attempts = new Map<string, number>()
  const hung: (() => void)[] = []
  const receiver: Receiver = {
    url: '',
    taken: (path) => taken.get(path) ?? [],
    attempts: (path) => attempts.get(path) ?? 0,
    mode: 'take',
    stop: () => {
      for (const release of hung) release()
      server.stop(true)
    },
  }
  const server = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    idleTimeout: 30,
    async fetch(request) {
      const path = new URL(request.url).pathname
      const body = await request.json()
      attempts.set(path, (attempts.get(path) ?? 0) + 1)
      if (receiver.mode === 'refuse') return new Response('down for maintenance', { status: 503 })
      if (receiver.mode === 'reject') return new Response('bad payload', { status: 400 })
      if (receiver.mode === 'hang') return new Promise<Response>((resolve) => hung.push(() => resolve(new Response('late', { status: 503 }))))
      taken.set(path, [...(taken.get(path) ?? []), body])
      return new Response('ok')
    },
  })
  receiver.url = `http://127.0.0.1:${server.port}`
  return receiver
}
