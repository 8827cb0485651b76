/**
 * Rates from monotonic counters. A counter that went down was reset (reboot, driver reload) or
 * wrapped: that interval has no rate, rather than a negative or absurd one.
 */
export function rate(previous: number | undefined, current: number, seconds: number): number | undefined {
  if (previous === undefined || !(seconds > 0) || current < previous) return undefined
  return (current - previous) / seconds
}

/** Share of `part` in `whole` over an interval, as a percentage clamped to 0–100. */
export function percentOf(part: number, whole: number): number | undefined {
  if (!(whole > 0) || part < 0) return undefined
  return Math.min(100, Math.max(0, (part / whole) * 100))
}
