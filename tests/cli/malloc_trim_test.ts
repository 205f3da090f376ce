/**
 * The trimmer's binding to glibc. Its effect on a node's memory is measured, not asserted:
 * `deno task bench --workloads memory` (bench/README.md, "Memory of a node").
 */
import assert from "node:assert/strict";
import { startMallocTrim } from "../../src/cli/malloc_trim.ts";

Deno.test({
  name: "malloc trim: binds malloc_trim on glibc Linux, trims on demand, and stops cleanly",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const trimmer = startMallocTrim(60_000);
    let glibc = true;
    try {
      Deno.dlopen("libc.so.6", {}).close();
    } catch {
      glibc = false;
    }
    assert.equal(trimmer !== undefined, glibc, "a trimmer exactly where glibc can be loaded");
    if (!trimmer) return;
    const first = trimmer.trim();
    assert.equal(trimmer.trim(), first, "one trim at a time");
    assert.equal(typeof await first, "boolean");
    const last = trimmer.trim();
    trimmer.stop(); // the interval is cleared: the test sanitizer would flag a leaked timer
    assert.equal(typeof await last, "boolean", "a trim under way when stopped still returns");
  },
});
