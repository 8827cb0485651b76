import { machineCpu } from '../readers'

/**
 * The whole machine's busy share of its cores while `work` runs, %: the master, PostgreSQL, Redis
 * and the load all share them, so what a run left idle says whether it was short of CPU or waiting.
 */
export async function busyWhile<T>(work: () => Promise<T>): Promise<{ result: T; busyPercent: number }> {
  const before = machineCpu()
  const result = await work()
  const after = machineCpu()
  return { result, busyPercent: Math.round((100 * (after.busy - before.busy)) / Math.max(1, after.total - before.total)) }
}
