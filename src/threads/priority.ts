import { dlopen, FFIType } from 'bun:ffi'

/** The C libraries that may provide setpriority: glibc, then musl (Alpine). */
const LIBC = ['libc.so.6', 'libc.musl-x86_64.so.1', 'libc.musl-aarch64.so.1', 'libc.so']

/**
 * Sets the calling thread's nice value. On Linux, setpriority(PRIO_PROCESS, 0, …) applies to the
 * calling thread alone (each thread is a task with its own nice value). Returns false where that
 * cannot be done (another OS, no such library, not permitted): the thread keeps the process's.
 */
export function setThreadNice(nice: number): boolean {
  if (process.platform !== 'linux') return false
  for (const name of LIBC) {
    try {
      const libc = dlopen(name, { setpriority: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 } })
      const PRIO_PROCESS = 0
      const done = libc.symbols.setpriority(PRIO_PROCESS, 0, nice) === 0
      libc.close()
      return done
    } catch {}
  }
  return false
}
