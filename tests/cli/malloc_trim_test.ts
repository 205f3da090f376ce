/**
 * The trimmer's binding to glibc. Its effect on a node's memory is measured, not asserted:
 * `deno task bench --workloads memory` (bench/README.md, "Memory of a node").
 */
import assert from "node:assert/strict";
import { setTimeout as delay } from "node:timers/promises";
import { quietSinceLastAsked, startMallocTrim } from "../../src/cli/malloc_trim.ts";

Deno.test({
  name: "malloc trim: binds malloc_trim on glibc Linux, trims on demand, and stops cleanly",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const heard: [number, boolean][] = [];
    const trimmer = startMallocTrim(60_000, {
      onTrimmed: (ms, released) => heard.push([ms, released]),
    });
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

Deno.test({
  name: "malloc trim: the timer trims only when `when` says the node is quiet",
  ignore: Deno.build.os !== "linux",
  async fn() {
    let quiet = false;
    let asked = 0;
    let trims = 0;
    const trimmer = startMallocTrim(10, {
      when: () => {
        asked++;
        return quiet;
      },
      onTrimmed: () => trims++,
    });
    if (!trimmer) return; // no glibc here: the first test says so
    try {
      const deadline = Date.now() + 10_000;
      while (asked < 5 && Date.now() < deadline) await delay(10);
      assert.ok(asked >= 5, "the timer asks at every interval");
      assert.equal(trims, 0, "no trim while the node is busy");
      quiet = true;
      while (trims === 0 && Date.now() < deadline) await delay(10);
      assert.ok(trims >= 1, "a trim once it is quiet");
    } finally {
      // One trim now (or the one under way), so that none is left running past the test.
      const last = trimmer.trim();
      trimmer.stop();
      await last;
    }
    assert.equal(await trimmer.trim(), false, "a stopped trimmer no longer trims");
  },
});

Deno.test("malloc trim: quiet means less progress than the bound since the last question", () => {
  let applied = 100;
  const when = quietSinceLastAsked(() => applied, 500);
  assert.equal(when(), true, "nothing applied since it was made");
  applied += 499;
  assert.equal(when(), true, "499 < 500");
  applied += 500;
  assert.equal(when(), false, "a burst");
  assert.equal(when(), true, "and quiet again: each answer counts from the last question");
  applied += 10_000;
  assert.equal(when(), false);
});
