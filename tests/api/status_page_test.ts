/**
 * The status page's routes over a fake node: `GET /` serves the page without a token, and
 * `GET /v1/status` answers what it shows, behind the admin scope when tokens are configured.
 * The page in a real browser: tests/process/status_page_browser_test.ts.
 */

import assert from "node:assert/strict";
import { createApp } from "../../src/api/app.ts";
import { STATUS_PAGE_CSP } from "../../src/api/status_page/page.ts";
import type { LockInfo } from "../../src/state/lock_table.ts";
import { FakeNode, ManualClock } from "./fake_node.ts";
import { send } from "./harness.ts";

/** The fake node with the real node's lock listing. */
class ListingNode extends FakeNode {
  listLocks(): LockInfo[] {
    return this.sm.listLocks();
  }
}

function makeStatusApp(tokens?: { token: string; scopes: ("read" | "admin")[] }[]) {
  const clock = new ManualClock();
  const node = new ListingNode({ clock });
  const app = createApp(node, {
    clusterId: "test",
    peers: new Map([[1, "http://127.0.0.1:7101"], [2, "http://127.0.0.1:7102"]]),
    clientUrls: new Map([[1, "http://127.0.0.1:7001"], [2, "http://127.0.0.1:7002"]]),
    clock: clock.now,
    tokens,
  });
  return { app, node, clock };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

Deno.test("GET / serves the status page, with its policy, to anyone", async () => {
  const { app } = makeStatusApp([{ token: "admin-token", scopes: ["admin"] }]);
  const a = await send(app, "GET", "/");
  assert.equal(a.status, 200);
  assert.equal(a.headers.get("content-type"), "text/html; charset=utf-8");
  assert.equal(a.headers.get("content-security-policy"), STATUS_PAGE_CSP);
  assert.match(a.text, /^<!doctype html>/);
  assert.match(a.text, /<main>/);
  assert.match(a.text, /fetch\("\/v1\/status"/);
  // Small, and nothing from elsewhere.
  assert.ok(a.text.length < 20_000, `${a.text.length} bytes`);
  assert.doesNotMatch(a.text, /https?:\/\//);
  assert.doesNotMatch(a.text, /innerHTML/);
  assert.equal((await send(app, "POST", "/")).status, 405);
});

Deno.test("GET /v1/status needs the admin scope when tokens are configured", async () => {
  const { app } = makeStatusApp([
    { token: "read-token", scopes: ["read"] },
    { token: "admin-token", scopes: ["admin"] },
  ]);
  assert.equal((await send(app, "GET", "/v1/status")).status, 401);
  assert.equal(
    (await send(app, "GET", "/v1/status", { headers: bearer("read-token") })).status,
    403,
  );
  const ok = await send(app, "GET", "/v1/status", { headers: bearer("admin-token") });
  assert.equal(ok.status, 200);
  assert.equal(ok.headers.get("cache-control"), "no-store");
});

Deno.test("GET /v1/status: leader, members, held locks with waiters, latest changes", async () => {
  const { app, clock } = makeStatusApp();
  await send(app, "PUT", "/v1/config/app/a", { json: 1 });
  await send(app, "PUT", "/v1/config/app/b", { json: 2 });
  await send(app, "DELETE", "/v1/config/app/a");
  const granted = await send(app, "POST", "/v1/locks/cron/acquire", {
    json: { ttlMs: 30_000, owner: "eu-west" },
  });
  assert.equal(granted.status, 200);
  const waiting = send(app, "POST", "/v1/locks/cron/acquire", {
    json: { ttlMs: 30_000, owner: "us-east", waitMs: 5000 },
  });
  // The wait is proposed once its request is read: poll (bounded) until it is queued.
  let s = (await send(app, "GET", "/v1/status")).body;
  for (let i = 0; i < 200 && s.locks[0]?.waiters.length !== 1; i++) {
    await new Promise((resolve) => setTimeout(resolve, 5));
    s = (await send(app, "GET", "/v1/status")).body;
  }
  assert.equal(s.nodeId, 1);
  assert.equal(s.leaderId, 1);
  assert.equal(s.role, "leader");
  assert.deepEqual(s.members.map((m: { id: number; self: boolean }) => [m.id, m.self]), [
    [1, true],
    [2, false],
    [3, false], // a voter of the fake node's configuration, with no client URL here
  ]);
  assert.equal(s.members[0].reachable, null);
  assert.equal(s.members[0].appliedIndex, s.appliedIndex);
  assert.equal(s.locksTotal, 1);
  assert.equal(s.locks[0].name, "cron");
  assert.equal(s.locks[0].holder.owner, "eu-west");
  assert.equal(s.locks[0].holder.token, granted.body.token);
  assert.deepEqual(s.locks[0].waiters.map((w: { owner: string }) => w.owner), ["us-east"]);
  assert.deepEqual(
    s.changes.map((
      c: { key: string; type: string; revision: number },
    ) => [c.key, c.type, c.revision]),
    [["app/a", "delete", 3], ["app/b", "put", 2], ["app/a", "put", 1]],
  );
  // The fake keeps no counters, so it cannot say when (the real node: the browser test).
  assert.ok(s.changes.every((c: { appliedAt: number | null }) => c.appliedAt === null));
  assert.equal(s.version, "0.1.0");
  // Let the waiter run out, so no request is left open.
  clock.advance(5001);
  await send(app, "POST", "/v1/locks/cron/release", { json: { token: granted.body.token } });
  await waiting;
});

Deno.test("/openapi.json describes GET /v1/status (not the page: it is no API)", async () => {
  const { app } = makeStatusApp();
  const doc = (await send(app, "GET", "/openapi.json")).body;
  assert.ok(doc.paths["/v1/status"]?.get);
  assert.equal(doc.paths["/"], undefined);
  assert.ok(doc.components.schemas.Status.properties.locks);
});
