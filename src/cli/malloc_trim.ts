/**
 * Hands memory that glibc's malloc holds free back to the kernel, now and then.
 *
 * Why: the Rust side of a node (HTTP serving, WebSockets, Deno KV) allocates with glibc's
 * malloc, which returns freed memory to the kernel only from the top of its heap. After a burst
 * of requests the heap is left full of free holes that still count as resident memory: a
 * leader that served 100k writes settled ~20 MB above its followers (bench/README.md).
 * `malloc_trim(0)` releases the free pages inside the heap as well. It takes well under a
 * millisecond, so calling it every few seconds costs nothing measurable.
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
  /** Trims once now; returns whether memory was released. */
  trim(): boolean;
  /** Stops the timer and unloads the library. */
  stop(): void;
}

/**
 * Starts trimming every `intervalMs`; undefined when there is no glibc to ask (or no FFI).
 *
 * @example
 * ```ts
 * import { startMallocTrim } from "./malloc_trim.ts";
 * const trimmer = startMallocTrim(10_000);
 * trimmer?.stop();
 * ```
 */
export function startMallocTrim(intervalMs: number): MallocTrimmer | undefined {
  if (Deno.build.os !== "linux") return undefined;
  let lib: Deno.DynamicLibrary<{ malloc_trim: { parameters: ["usize"]; result: "i32" } }>;
  try {
    lib = Deno.dlopen("libc.so.6", { malloc_trim: { parameters: ["usize"], result: "i32" } });
  } catch {
    return undefined; // musl, or no --allow-ffi: nothing to trim with
  }
  const trim = () => lib.symbols.malloc_trim(0n) === 1;
  const timer = setInterval(trim, intervalMs);
  // A trimmer must never keep a process alive on its own.
  Deno.unrefTimer(timer);
  return {
    trim,
    stop() {
      clearInterval(timer);
      lib.close();
    },
  };
}
