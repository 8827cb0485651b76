/** Polls `condition` every 10 ms until it holds; resolves with the time it took, fails after `timeoutMs`. */
export async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs: number): Promise<number> {
  const started = performance.now()
  while (!(await condition())) {
    if (performance.now() - started > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`)
    await Bun.sleep(10)
  }
  return performance.now() - started
}
