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
    const heard: [number, boolean][] = [];
    const trimmer = startMallocTrim(60_000, (ms, released) => heard.push([ms, released]));
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
    const released = await first;
    assert.equal(typeof released, "boolean");
    assert.equal(heard.length, 1, "each trim is timed for the caller");
    assert.ok(heard[0][0] >= 0 && heard[0][1] === released);
    const last = trimmer.trim();
    trimmer.stop(); // the interval is cleared: the test sanitizer would flag a leaked timer
    assert.equal(typeof await last, "boolean", "a trim under way when stopped still returns");
  },
});
