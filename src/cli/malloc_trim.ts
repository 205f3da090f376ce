/**
 * Hands memory that glibc's malloc holds free back to the kernel, now and then.
 *
 * Why: the Rust side of a node (HTTP serving, WebSockets, Deno KV) allocates with glibc's
 * malloc, which returns freed memory to the kernel only from the top of its heap. After a burst
 * of requests the heap is left full of free holes that still count as resident memory: a
 * leader that served 100k writes settled ~20 MB above its followers (bench/README.md).
 * `malloc_trim(0)` releases the free pages inside the heap as well. On a small heap it takes
 * well under a millisecond; on the heap of a node holding a million keys it walks hundreds of MB,
 * so it runs on a thread of its own (FFI `nonblocking`), never on the event loop that sends
 * heartbeats (issue 17), and one call at a time.
 *
 * Only where there is a glibc (`libc.so.6`, Linux): elsewhere, or without FFI permission, the
 * trimmer does nothing and says so through `start`'s result.
 *
 * @module
 */

/**
 * A running trimmer.
 *
 * @example
 * ```ts
 * import type { MallocTrimmer } from "./malloc_trim.ts";
 * const stop = (t: MallocTrimmer) => t.stop();
 * ```
 */
export interface MallocTrimmer {
  /** Trims once now, off the event loop; resolves whether memory was released. */
  trim(): Promise<boolean>;
  /** Stops the timer; the library is unloaded once a trim under way has returned. */
  stop(): void;
}

/**
 * Starts trimming every `intervalMs`; undefined when there is no glibc to ask (or no FFI).
 * `onTrimmed` hears how long each trim took: it holds malloc's arena locks meanwhile, so every
 * thread of the process that allocates (the event loop, the heartbeat keeper) waits for it.
 *
 * @example
 * ```ts
 * import { startMallocTrim } from "./malloc_trim.ts";
 * const trimmer = startMallocTrim(10_000);
 * trimmer?.stop();
 * ```
 */
export function startMallocTrim(
  intervalMs: number,
  onTrimmed?: (ms: number, released: boolean) => void,
): MallocTrimmer | undefined {
  if (Deno.build.os !== "linux") return undefined;
  const symbols = {
    malloc_trim: { parameters: ["usize"], result: "i32", nonblocking: true },
  } as const;
  let lib: Deno.DynamicLibrary<typeof symbols>;
  try {
    lib = Deno.dlopen("libc.so.6", symbols);
  } catch {
    return undefined; // musl, or no --allow-ffi: nothing to trim with
  }
  let running: Promise<boolean> | undefined;
  let stopped = false;
  const trim = () => {
    if (running) return running;
    const started = performance.now();
    running = lib.symbols.malloc_trim(0n).then((result) => {
      const released = result === 1;
      onTrimmed?.(performance.now() - started, released);
      return released;
    }).finally(() => {
      running = undefined;
      if (stopped) lib.close();
    });
    return running;
  };
  const timer = setInterval(trim, intervalMs);
  // A trimmer must never keep a process alive on its own.
  Deno.unrefTimer(timer);
  return {
    trim,
    stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      if (!running) lib.close();
    },
  };
}
