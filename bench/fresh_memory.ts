/**
 * What fresh memory costs on this machine: a new `Uint8Array` of N MB, then one byte written per
 * 4 KiB page, as a copy into a new buffer touches them. On a VM whose page faults are dear, the
 * second number is what joining a large snapshot into one buffer pays (issue 17).
 *
 * Run: `deno run bench/fresh_memory.ts [MB ...]` (default 16 64 130 130).
 *
 * @module
 */

/**
 * Allocates `mb` MB and touches each page once; returns both times in ms.
 *
 * @example
 * ```ts
 * import { freshMemoryMs } from "./fresh_memory.ts";
 * const { allocateMs, touchMs } = freshMemoryMs(1);
 * allocateMs >= 0 && touchMs >= 0; // true
 * ```
 */
export function freshMemoryMs(mb: number): { allocateMs: number; touchMs: number } {
  const started = performance.now();
  const bytes = new Uint8Array(mb * 1024 * 1024);
  const allocated = performance.now();
  for (let i = 0; i < bytes.length; i += 4096) bytes[i] = 1;
  return { allocateMs: allocated - started, touchMs: performance.now() - allocated };
}

if (import.meta.main) {
  const sizes = Deno.args.length > 0 ? Deno.args.map(Number) : [16, 64, 130, 130];
  for (const mb of sizes) {
    const { allocateMs, touchMs } = freshMemoryMs(mb);
    console.log(
      `${String(mb).padStart(4)} MB: new Uint8Array ${allocateMs.toFixed(2)} ms, ` +
        `a byte written per 4 KiB page ${touchMs.toFixed(2)} ms`,
    );
  }
}
