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
 * heartbeats (issue 17), and one call at a time. It still holds malloc's arena locks while it
 * walks, and the event loop allocates: under load a trim of such a heap stalled the loop for
 * 50-150 ms, so a node trims only once its writes have quiet down (`MallocTrimOptions.when`).
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
 * When the trimmer trims, and what it tells.
 *
 * @example
 * ```ts
 * import type { MallocTrimOptions } from "./malloc_trim.ts";
 * const options: MallocTrimOptions = { when: () => true, onTrimmed: (ms) => console.log(ms) };
 * ```
 */
export interface MallocTrimOptions {
  /**
   * Asked at every interval; the timed trim runs only when it says yes. A node says yes only
   * when it has been quiet: under sustained writes a trim of a large heap took 50-150 ms, every
   * thread waiting on malloc's locks meanwhile (the event loop's worst delays in
   * `deno task bench:scale`), and gave back memory that the next writes took again. Default:
   * always. `trim()` does not ask.
   */
  when?: () => boolean;
  /**
   * Hears how long each trim took: it holds malloc's arena locks meanwhile, so every thread of
   * the process that allocates (the event loop, the heartbeat keeper) waits for it.
   */
  onTrimmed?: (ms: number, released: boolean) => void;
}

/**
 * Starts trimming every `intervalMs` (when `options.when` agrees); undefined when there is no
 * glibc to ask (or no FFI).
 * @example
 * ```ts
 * import { startMallocTrim } from "./malloc_trim.ts";
 * const trimmer = startMallocTrim(10_000, { onTrimmed: (ms) => console.log(`trim: ${ms} ms`) });
 * trimmer?.stop();
 * ```
 */
export function startMallocTrim(
  intervalMs: number,
  options: MallocTrimOptions = {},
): MallocTrimmer | undefined {
  const { when, onTrimmed } = options;
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
    if (stopped) return Promise.resolve(false); // the library is closed
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
  const timer = setInterval(() => {
    if (!when || when()) trim();
  }, intervalMs);
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

/**
 * A `when` for {@linkcode startMallocTrim}: yes when `progress()` (a node's applied index, say)
 * moved by less than `quiet` since the last time it was asked. The first answer counts from
 * the moment this was made.
 *
 * @example
 * ```ts
 * import { quietSinceLastAsked } from "./malloc_trim.ts";
 * let applied = 0;
 * const when = quietSinceLastAsked(() => applied, 500);
 * applied += 10_000; // a burst of writes
 * when(); // false
 * when(); // true: nothing applied since
 * ```
 */
export function quietSinceLastAsked(progress: () => number, quiet: number): () => boolean {
  let last = progress();
  return () => {
    const now = progress();
    const moved = now - last;
    last = now;
    return moved < quiet;
  };
}
