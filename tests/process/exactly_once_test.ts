/**
 * Issue 10, defects 1 and 2 on real processes: an idempotency key reused for another request
 * is refused wherever it lands (followers forward the principal and the fingerprint with the
 * command), and a lock acquire whose fetch was aborted mid-wait on one node, retried with its
 * key on another, waits in line and is granted.
 */

import assert from "node:assert/strict";
import { startCluster, type TestCluster } from "./cluster_fixture.ts";
import { poll } from "./poll.ts";

async function call(
  c: TestCluster,
  id: number,
  method: string,
  path: string,
  opts: { json?: unknown; headers?: Record<string, string>; signal?: AbortSignal } = {},
): Promise<{ status: number; headers: Headers; body: Record<string, unknown> }> {
  const res = await fetch(`${c.clientUrl(id)}${path}`, {
    method,
    headers: { "content-type": "application/json", ...opts.headers },
    body: opts.json === undefined ? undefined : JSON.stringify(opts.json),
    signal: opts.signal ?? AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : {} };
}

Deno.test({
  name:
    "process: reused idempotency keys are refused on every node; an aborted wait retried elsewhere is granted",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const c = await startCluster({ nodes: 3 });
    try {
      const leader = await c.waitForLeader({ timeoutMs: 20_000 });
      const [f1, f2] = c.ids.filter((id) => id !== leader);
      const k1 = { "idempotency-key": "k1" };
      await poll(async () => {
        const r = await call(c, f1, "PUT", "/v1/config/idA", { json: 1, headers: k1 });
        return r.status === 200 ? r : undefined;
      }, { what: "the first write", timeoutMs: 15_000 });

      // Defect 1: the same key on another path, on another follower, is refused.
      const other = await call(c, f2, "PUT", "/v1/config/idB", { json: 1, headers: k1 });
      assert.equal(other.status, 422);
      assert.equal(other.body.type, "urn:edgeraft:problem:idempotency-key-reused");
      assert.equal((await call(c, leader, "GET", "/v1/config/idB")).status, 404);
      const lock = await call(c, leader, "POST", "/v1/locks/x/acquire", {
        json: { ttlMs: 5000 },
        headers: k1,
      });
      assert.equal(lock.status, 422);
      const retry = await call(c, leader, "PUT", "/v1/config/idA", { json: 1, headers: k1 });
      assert.equal(retry.status, 200);
      assert.equal(retry.headers.get("idempotent-replayed"), "true");

      // Defect 2: a waiter's fetch is aborted on one follower; its retry on the other waits.
      const held = await call(c, leader, "POST", "/v1/locks/job/acquire", {
        json: { ttlMs: 60_000, owner: "first" },
      });
      assert.equal(held.status, 200);
      const json = { ttlMs: 10_000, waitMs: 30_000, owner: "edge" };
      const acq = { "idempotency-key": "acq-1" };
      const waiters = async (id: number) =>
        ((await call(c, id, "GET", "/v1/locks/job")).body.waiters as unknown[]).length;
      const controller = new AbortController();
      const first = call(c, f1, "POST", "/v1/locks/job/acquire", {
        json,
        headers: acq,
        signal: controller.signal,
      }).catch((e) => e);
      await poll(async () => (await waiters(leader)) === 1 || undefined, { what: "the wait" });
      controller.abort();
      await first;
      await poll(async () => (await waiters(leader)) === 0 || undefined, {
        what: "the withdrawal",
      });
      const again = call(c, f2, "POST", "/v1/locks/job/acquire", { json, headers: acq });
      await poll(async () => (await waiters(leader)) === 1 || undefined, { what: "the retry" });
      const released = await call(c, leader, "POST", "/v1/locks/job/release", {
        json: { token: held.body.token },
      });
      assert.equal(released.status, 200);
      const granted = await again;
      assert.equal(granted.status, 200, JSON.stringify(granted.body));
      const state = await call(c, leader, "GET", "/v1/locks/job");
      assert.deepEqual(state.body.holder, {
        token: granted.body.token,
        owner: "edge",
        expiresAt: granted.body.expiresAt,
      });
      // A try-lock now sees the same holder object in its 409.
      const busy = await call(c, f1, "POST", "/v1/locks/job/acquire", { json: { ttlMs: 5000 } });
      assert.equal(busy.status, 409);
      assert.deepEqual(busy.body.holder, state.body.holder);
    } finally {
      await c.stop();
    }
  },
});
