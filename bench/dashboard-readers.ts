/**
 * `bun bench/dashboard-readers.ts <url> <readers> <revalidate: 0|1> <ms>`: closed-loop readers of
 * one URL for `ms` milliseconds, each reading every body whole; prints their figures as JSON.
 * Revalidating readers send the last ETag in If-None-Match, as a browser's dashboard does.
 */
import { figures, round2, type ReaderFigures } from './readers'

const [url, readerCount, revalidateFlag, durationMs] = process.argv.slice(2)
if (!url || !readerCount || !revalidateFlag || !durationMs) throw new Error('usage: dashboard-readers.ts <url> <readers> <0|1> <ms>')
const readers = Number(readerCount)
const revalidate = revalidateFlag === '1'
const started = performance.now()
const until = started + Number(durationMs)
const times: number[] = []
let errors = 0
let bytes = 0
let bodyBytes = 0
let notModified = 0

await Promise.all(Array.from({ length: readers }, async () => {
  let etag: string | null = null
  while (performance.now() < until) {
    const sent = performance.now()
    try {
      const response: Response = await fetch(url, { headers: revalidate && etag ? { 'if-none-match': etag } : {} })
      const body = await response.arrayBuffer()
      if (response.status !== 200 && response.status !== 304) throw new Error(`answered ${response.status}`)
      times.push(performance.now() - sent)
      if (response.status === 304) notModified++
      else bodyBytes = body.byteLength
      etag = response.headers.get('etag') ?? etag
      bytes += body.byteLength
    } catch {
      errors++
      await Bun.sleep(10)
    }
  }
}))

const seconds = (performance.now() - started) / 1000
const result: ReaderFigures = {
  readers,
  revalidate,
  notModified,
  ...figures(times, errors),
  requestsPerSecond: round2(times.length / seconds),
  mibPerSecond: round2(bytes / 2 ** 20 / seconds),
  bodyBytes,
}
console.log(JSON.stringify(result))
