import assert from "node:assert/strict";
import { LogDriver } from "./log_driver.ts";

Deno.test("puts and deletes move revision, createRevision and version as etcd does", () => {
  const log = new LogDriver();
  assert.equal(log.sm.revision, 0);
  assert.deepEqual(log.result({ op: "put", key: "a", value: 1 }), {
    ok: true,
    key: "a",
    revision: 1,
    createRevision: 1,
    version: 1,
    prevRevision: 0,
  });
  log.result({ op: "put", key: "b", value: "x" });
  assert.deepEqual(log.result({ op: "put", key: "a", value: { n: 2 } }), {
    ok: true,
    key: "a",
    revision: 3,
    createRevision: 1,
    version: 2,
    prevRevision: 1,
  });
  assert.deepEqual(log.sm.get("a"), {
    key: "a",
    value: { n: 2 },
    revision: 3,
    createRevision: 1,
    version: 2,
  });
  assert.deepEqual(log.result({ op: "delete", key: "a" }), {
    ok: true,
    key: "a",
    revision: 4,
    prevRevision: 3,
  });
  assert.equal(log.sm.get("a"), undefined);
  // Created again: the history of the old incarnation does not carry over.
  assert.deepEqual(log.result({ op: "put", key: "a", value: null }), {
    ok: true,
    key: "a",
    revision: 5,
    createRevision: 5,
    version: 1,
    prevRevision: 0,
  });
  assert.equal(log.sm.get("a")?.value, null);
  assert.equal(log.sm.revision, 5);
});

Deno.test("failed commands and lock commands do not move the revision", () => {
  const log = new LogDriver();
  log.result({ op: "put", key: "a", value: 1 });
  const outcome = log.run({ op: "delete", key: "missing" });
  assert.deepEqual(outcome.result, { ok: false, reason: "not_found", key: "missing" });
  assert.deepEqual(outcome.events, []);
  log.result({ op: "acquire", name: "l", owner: "o", ttlMs: 1000, waitMs: 0 });
  log.tickAfter(5000);
  assert.equal(log.sm.revision, 1);
  assert.equal(log.run({ op: "tick" }).revision, 1);
});

Deno.test("ifRevision is a compare-and-set; an absent key has revision 0", () => {
  const log = new LogDriver();
  assert.deepEqual(log.result({ op: "put", key: "a", value: 1, ifRevision: 5 }), {
    ok: false,
    reason: "revision_mismatch",
    key: "a",
    current: null,
  });
  assert.equal(log.result({ op: "put", key: "a", value: 1, ifRevision: 0 }).ok, true);
  assert.deepEqual(log.result({ op: "put", key: "a", value: 2, ifRevision: 0 }), {
    ok: false,
    reason: "revision_mismatch",
    key: "a",
    current: { revision: 1, createRevision: 1, version: 1 },
  });
  assert.equal(log.result({ op: "put", key: "a", value: 2, ifRevision: 1 }).ok, true);
  assert.equal(log.sm.get("a")?.value, 2);
  assert.deepEqual(log.result({ op: "delete", key: "a", ifRevision: 1 }), {
    ok: false,
    reason: "revision_mismatch",
    key: "a",
    current: { revision: 2, createRevision: 1, version: 2 },
  });
  assert.equal(log.result({ op: "delete", key: "a", ifRevision: 2 }).ok, true);
  // Absence wins over a compare: there is nothing to delete.
  assert.deepEqual(log.result({ op: "delete", key: "a", ifRevision: 0 }), {
    ok: false,
    reason: "not_found",
    key: "a",
  });
});

Deno.test("ifAbsent creates only", () => {
  const log = new LogDriver();
  assert.equal(log.result({ op: "put", key: "a", value: 1, ifAbsent: true }).ok, true);
  assert.deepEqual(log.result({ op: "put", key: "a", value: 2, ifAbsent: true }), {
    ok: false,
    reason: "exists",
    key: "a",
    current: { revision: 1, createRevision: 1, version: 1 },
  });
  assert.equal(log.result({ op: "put", key: "a", value: 3, ifAbsent: false }).ok, true);
  assert.equal(log.sm.get("a")?.value, 3);
});

Deno.test("readers get a copy of a value, so they cannot change the state", () => {
  const log = new LogDriver();
  log.run({ op: "put", key: "a", value: { list: [1] } });
  const value = log.sm.get("a")!.value as { list: number[] };
  value.list.push(2);
  assert.deepEqual(log.sm.get("a")!.value, { list: [1] });
  assert.deepEqual(log.sm.list({ prefix: "a" }).items[0].value, { list: [1] });
});

const TRICKY_KEYS = [
  "a",
  "a/",
  "a/b",
  "a/b/c",
  "a/b c",
  "a/b%2Fc",
  "a/\u0000",
  "a/\u007f",
  "a/é",
  "a/中文",
  "a/\uffff",
  "a/😀",
  "a/\u{10ffff}",
  "a0",
  "a\uffff",
  "b",
];

function utf8Order(keys: string[]): string[] {
  const utf8 = new TextEncoder();
  return [...keys].sort((x, y) => {
    const a = utf8.encode(x);
    const b = utf8.encode(y);
    for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
    return a.length - b.length;
  });
}

Deno.test("list pages through a prefix in UTF-8 byte order, tricky characters included", () => {
  const log = new LogDriver();
  for (const key of [...TRICKY_KEYS].reverse()) log.run({ op: "put", key, value: key });
  for (const prefix of ["", "a", "a/", "a/b", "a/\u0000", "a\uffff", "zz"]) {
    const expected = utf8Order(TRICKY_KEYS.filter((k) => k.startsWith(prefix)));
    for (const limit of [1, 2, 3, 100]) {
      const seen: string[] = [];
      let after: string | undefined;
      let pages = 0;
      while (true) {
        const page = log.sm.list({ prefix, after, limit });
        assert.equal(page.revision, TRICKY_KEYS.length);
        assert.ok(page.items.length <= limit);
        for (const item of page.items) {
          assert.equal(item.value, item.key);
          seen.push(item.key);
        }
        pages++;
        if (page.next === null) break;
        assert.equal(page.next, page.items[page.items.length - 1].key);
        after = page.next;
      }
      assert.deepEqual(seen, expected, `prefix ${JSON.stringify(prefix)} limit ${limit}`);
      assert.equal(pages, Math.max(1, Math.ceil(expected.length / limit)));
    }
  }
});

Deno.test("list: an `after` before the prefix starts at the prefix; defaults; bad limit", () => {
  const log = new LogDriver();
  for (const key of ["a", "b/1", "b/2", "c"]) log.run({ op: "put", key, value: 0 });
  assert.deepEqual(log.sm.list({ prefix: "b/", after: "a" }).items.map((i) => i.key), [
    "b/1",
    "b/2",
  ]);
  assert.deepEqual(log.sm.list({ prefix: "b/", after: "b/1" }).items.map((i) => i.key), ["b/2"]);
  assert.deepEqual(log.sm.list({ prefix: "b/", after: "b/9" }).items, []);
  assert.deepEqual(log.sm.list().items.map((i) => i.key), ["a", "b/1", "b/2", "c"]);
  assert.equal(log.sm.list().next, null);
  assert.throws(() => log.sm.list({ limit: 0 }), RangeError);
  assert.throws(() => log.sm.list({ limit: 1.5 }), RangeError);
});

Deno.test("paging resumes after the cursor while keys change between pages", () => {
  const log = new LogDriver();
  for (let i = 0; i < 10; i++) log.run({ op: "put", key: `k${i}`, value: i });
  const first = log.sm.list({ limit: 4 });
  assert.deepEqual(first.items.map((i) => i.key), ["k0", "k1", "k2", "k3"]);
  assert.equal(first.next, "k3");
  log.run({ op: "delete", key: "k4" });
  log.run({ op: "put", key: "k10", value: 0 }); // sorts before the cursor: not on later pages
  log.run({ op: "put", key: "k35", value: 0 });
  log.run({ op: "put", key: "k99", value: 0 });
  const second = log.sm.list({ after: first.next!, limit: 100 });
  assert.deepEqual(second.items.map((i) => i.key), [
    "k35",
    "k5",
    "k6",
    "k7",
    "k8",
    "k9",
    "k99",
  ]);
  assert.equal(second.next, null);
});
