import { dlopen, FFIType } from 'bun:ffi'

/**
 * Lowers the calling thread's scheduling priority (Linux: a thread is a task with its own nice
 * value). Returns false where that cannot be done (another OS, no libc): the thread just keeps the
 * process's priority.
 */
export function lowerThreadPriority(nice: number): boolean {
  if (process.platform !== 'linux') return false
  try {
    const libc = dlopen('libc.so.6', {
      syscall: { args: [FFIType.i64], returns: FFIType.i64 },
      setpriority: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    })
    const SYS_GETTID = process.arch === 'arm64' ? 178 : 186
    const PRIO_PROCESS = 0
    const tid = Number(libc.symbols.syscall(SYS_GETTID))
    const done = libc.symbols.setpriority(PRIO_PROCESS, tid, nice) === 0
    libc.close()
    return done
  } catch {
    return false
  }
}
