import { describe, expect, test } from 'bun:test'
import { admit } from '../src/datahub/admission'

/** The arithmetic of fair admission, with no commits in between (the worst case for the bound). */
class Queue {
  readonly byCluster = new Map<string, number>()
  total = 0
  within = 0
  peak = 0
  constructor(readonly limit: number) {}

  offer(clusterId: string, rows: number): boolean {
    const clusterRows = this.byCluster.get(clusterId) ?? 0
    const active = [...this.byCluster.values()].filter((queued) => queued > 0).length
    const admission = admit({ totalRows: this.total, withinShareRows: this.within, activeClusters: active }, clusterRows, rows, this.limit)
    if (!admission) return false
    this.byCluster.set(clusterId, clusterRows + rows)
    this.total += rows
    if (admission === 'within-share') this.within += rows
    this.peak = Math.max(this.peak, this.total)
    return true
  }
}

describe('fair admission', () => {
  test('the queue never holds more than twice the limit, however many clusters post', () => {
    for (const clusters of [1, 2, 10, 100, 1_000]) {
      for (const rows of [1, 10, 100, 1_990, 5_000]) {
        const queue = new Queue(2_000)
        for (let round = 0; round < 50; round++) for (let c = 0; c < clusters; c++) queue.offer(`c${c}`, rows)
        expect(queue.peak).toBeLessThanOrEqual(rows > 4_000 ? rows : 4_000)
      }
    }
  })

  test('a snapshot bigger than the whole queue is taken when the queue is empty, and only then', () => {
    const queue = new Queue(2_000)
    expect(queue.offer('huge', 10_000)).toBe(true)
    expect(queue.offer('huge', 1)).toBe(false)
    expect(queue.offer('other', 10)).toBe(true) // within its share: still room for others
  })

  test('a greedy cluster holding one over-share snapshot leaves the others their room', () => {
    const queue = new Queue(2_000)
    expect(queue.offer('greedy', 1_990)).toBe(true)
    expect(queue.offer('greedy', 1_990)).toBe(false)
    for (let round = 0; round < 10; round++) for (let c = 0; c < 9; c++) expect(queue.offer(`normal${c}`, 10)).toBe(true)
  })
})
