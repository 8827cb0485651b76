import { FIGURES } from '../model/figures'
import { breaches, type CompiledRule } from './compiled-rule'

interface Sorted {
  thresholds: Float64Array
  rules: CompiledRule[]
}

/**
 * The figure rules that apply everywhere, by figure and sorted by threshold. A sample finds the
 * rules its value breaches by a binary search and visits only those: with a thousand rules most
 * are nowhere near their threshold, and judging each of them for every sample would cost the
 * machine's second core (the bench: ingest with 1,000 rules against none).
 */
export class ThresholdIndex {
  private readonly figures: { above: Sorted; below: Sorted; other: CompiledRule[] }[]

  constructor(rules: readonly CompiledRule[]) {
    this.figures = FIGURES.map((_, figureIndex) => {
      const of = rules.filter((rule) => rule.figureIndex === figureIndex)
      const sorted = (list: CompiledRule[], descending: boolean): Sorted => {
        list.sort((a, b) => (descending ? b.threshold - a.threshold : a.threshold - b.threshold))
        return { thresholds: Float64Array.from(list.map((rule) => rule.threshold)), rules: list }
      }
      return {
        above: sorted(of.filter((rule) => rule.op === '>' || rule.op === '>='), false),
        below: sorted(of.filter((rule) => rule.op === '<' || rule.op === '<='), true),
        other: of.filter((rule) => rule.op === '==' || rule.op === '!='),
      }
    })
  }

  /** Calls `visit` for every rule of the figure that `value` breaches. */
  forEachBreached(figureIndex: number, value: number, visit: (rule: CompiledRule) => void): void {
    const { above, below, other } = this.figures[figureIndex]!
    // Ascending thresholds: those at or under the value may breach (> excludes an equal one).
    for (let at = 0, end = firstPast(above.thresholds, (threshold) => threshold > value); at < end; at++) {
      if (breaches(above.rules[at]!, value)) visit(above.rules[at]!)
    }
    for (let at = 0, end = firstPast(below.thresholds, (threshold) => threshold < value); at < end; at++) {
      if (breaches(below.rules[at]!, value)) visit(below.rules[at]!)
    }
    for (const rule of other) if (breaches(rule, value)) visit(rule)
  }
}

/** The first index whose threshold is `past` (the array is ordered so that every later one is past too). */
function firstPast(thresholds: Float64Array, past: (threshold: number) => boolean): number {
  let low = 0
  let high = thresholds.length
  while (low < high) {
    const middle = (low + high) >>> 1
    if (past(thresholds[middle]!)) high = middle
    else low = middle + 1
  }
  return low
}
