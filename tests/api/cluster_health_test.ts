import assert from "node:assert/strict";
import { READY_MAX_LAG_ENTRIES, READY_MAX_SILENCE_MS } from "../../src/api/routes/health.ts";
import type { FakeNode, ManualClock } from "./fake_node.ts";
import { makeApp, send } from "./harness.ts";

Deno.test("GET /v1/cluster on the leader: members with roles and match indexes", async () => {
  const { app, node } = makeApp();
  await send(app, "PUT", "/v1/config/k", { json: 1 });
  const a = await send(app, "GET", "/v1/cluster");
  assert.equal(a.status, 200);
  assert.equal(a.headers.get("x-revision"), "1");
  assert.deepEqual(a.body, {
    clusterId: "test",
    nodeId: 1,
    leaderId: 1,
    term: 1,
    commitIndex: node.index,
    appliedIndex: node.index,
    members: [
      {
        id: 1,
        url: "http://127.0.0.1:7001",
        peerUrl: "http://127.0.0.1:7101",
        role: "leader",
        matchIndex: node.index,
      },
      {
        id: 2,
        url: null,
        peerUrl: "http://127.0.0.1:7102",
        role: "follower",
        matchIndex: node.index,
      },
      { id: 3, url: null, peerUrl: "http://127.0.0.1:7103", role: "follower", matchIndex: 0 },
    ],
  });
});

Deno.test("GET /v1/cluster on a follower, and with no leader", async () => {
  const { app, node } = makeApp();
  node.leader = 3;
  const follower = await send(app, "GET", "/v1/cluster");
  assert.equal(follower.body.leaderId, 3);
  assert.deepEqual(follower.body.members.map((m: { role: string }) => m.role), [
    "follower",
    "follower",
    "leader",
  ]);
  assert.ok(follower.body.members.every((m: { matchIndex: unknown }) => m.matchIndex === null));
  assert.equal(follower.headers.get("x-leader"), "3");
  node.leader = 0;
  const none = await send(app, "GET", "/v1/cluster");
  assert.equal(none.body.leaderId, null);
  assert.ok(none.body.members.every((m: { role: string }) => m.role === "unknown"));
  assert.equal(none.headers.get("x-leader"), null);
});

Deno.test("healthz is always 200; readyz needs a leader and applied near commit", async () => {
  const { app, node } = makeApp();
  assert.deepEqual((await send(app, "GET", "/healthz")).body, { ok: true });
  const ready = await send(app, "GET", "/readyz");
  assert.equal(ready.status, 200);
  assert.equal(ready.body.ok, true);
  node.commit = node.index + READY_MAX_LAG_ENTRIES + 1;
  const behind = await send(app, "GET", "/readyz");
  assert.equal(behind.status, 503);
  assert.equal(behind.body.type, "urn:edgeraft:problem:not-ready");
  assert.match(behind.body.detail, /behind/);
  node.commit = node.index + READY_MAX_LAG_ENTRIES;
  assert.equal((await send(app, "GET", "/readyz")).status, 200, "within the bound");
  node.commit = undefined;
  node.leader = 0;
  const leaderless = await send(app, "GET", "/readyz");
  assert.equal(leaderless.status, 503);
  assert.equal(leaderless.headers.get("retry-after"), "1");
  node.leader = 0;
  assert.equal((await send(app, "GET", "/healthz")).status, 200);
});

/** Makes the fake a follower whose leader says it committed `leaderCommit`. */
function follower(node: FakeNode, clock: ManualClock, leaderCommit: number): void {
  node.leader = 2;
  node.lastContact = clock.now();
  const status = node.status.bind(node);
  node.status = () => ({ ...status(), leaderCommit });
}

Deno.test("readyz (issue 10, defect 6): a follower behind the leader's commit is not ready", async () => {
  // A restarted follower knows its own commit index only as its log catches up: applied equal
  // to its own commit index says nothing. The leader's commit as last heard decides.
  const { app, node, clock } = makeApp();
  await send(app, "PUT", "/v1/config/k", { json: 1 });
  follower(node, clock, node.index + 10_000);
  const behind = await send(app, "GET", "/readyz");
  assert.equal(behind.status, 503);
  assert.equal(behind.body.type, "urn:edgeraft:problem:not-ready");
  assert.match(behind.body.detail, /leader's commit index/);
  assert.equal(behind.body.leaderCommit, node.index + 10_000);
  assert.equal(behind.body.appliedIndex, node.index);
});

Deno.test("readyz: a follower within the bound of the leader's commit is ready", async () => {
  const { app, node, clock } = makeApp();
  await send(app, "PUT", "/v1/config/k", { json: 1 });
  follower(node, clock, node.index + READY_MAX_LAG_ENTRIES);
  const ready = await send(app, "GET", "/readyz");
  assert.equal(ready.status, 200);
  assert.deepEqual(ready.body, {
    ok: true,
    leaderId: 2,
    appliedIndex: node.index,
    leaderCommit: node.index + READY_MAX_LAG_ENTRIES,
  });
});

Deno.test("readyz: a follower that has not heard from the leader lately is not ready", async () => {
  const { app, node, clock } = makeApp();
  follower(node, clock, node.index);
  assert.equal((await send(app, "GET", "/readyz")).status, 200);
  clock.advance(READY_MAX_SILENCE_MS + 1);
  const silent = await send(app, "GET", "/readyz");
  assert.equal(silent.status, 503);
  assert.match(silent.body.detail, /last heard from the leader/);
  node.lastContact = 0;
  assert.match((await send(app, "GET", "/readyz")).body.detail, /not heard from the leader/);
});

Deno.test("GET /metrics: Prometheus text with node gauges, request counts and latencies", async () => {
  const { app } = makeApp();
  await send(app, "PUT", "/v1/config/k", { json: 1 });
  await send(app, "GET", "/v1/config/missing");
  const a = await send(app, "GET", "/metrics");
  assert.equal(a.status, 200);
  assert.equal(a.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  assert.match(a.text, /^edgeraft_term 1$/m);
  assert.match(a.text, /^edgeraft_is_leader 1$/m);
  assert.match(a.text, /^edgeraft_revision 1$/m);
  assert.match(
    a.text,
    /^edgeraft_http_requests_total\{method="PUT",route="\/v1\/config\/\{key\}",status="200"\} 1$/m,
  );
  assert.match(
    a.text,
    /^edgeraft_http_requests_total\{method="GET",route="\/v1\/config\/\{key\}",status="404"\} 1$/m,
  );
  assert.match(a.text, /^edgeraft_proposal_duration_seconds_count 1$/m);
  assert.match(a.text, /^edgeraft_proposal_duration_seconds_bucket\{le="\+Inf"\} 1$/m);
});

Deno.test("GET /openapi.json is generated from the schemas and names every route", async () => {
  const { app } = makeApp({ limits: { maxTtlMs: 60_000 } });
  const a = await send(app, "GET", "/openapi.json");
  assert.equal(a.status, 200);
  assert.equal(a.body.openapi, "3.1.0");
  const paths = a.body.paths;
  for (
    const [path, method] of [
      ["/v1/config/{key}", "get"],
      ["/v1/config/{key}", "put"],
      ["/v1/config/{key}", "delete"],
      ["/v1/config", "get"],
      ["/v1/locks/{name}/acquire", "post"],
      ["/v1/locks/{name}/renew", "post"],
      ["/v1/locks/{name}/release", "post"],
      ["/v1/locks/{name}", "get"],
      ["/v1/watch", "get"],
      ["/v1/cluster", "get"],
      ["/healthz", "get"],
      ["/readyz", "get"],
      ["/metrics", "get"],
    ]
  ) {
    assert.ok(paths[path]?.[method], `${method} ${path}`);
  }
  // The configured limit, straight from the validating schema.
  const acquire = a.body.components.schemas.AcquireRequest;
  assert.equal(acquire.properties.ttlMs.maximum, 60_000);
  assert.equal(acquire.properties.ttlMs.minimum, 1000);
  assert.equal(acquire.additionalProperties, false);
  assert.ok(paths["/v1/locks/{name}/acquire"].post.responses["409"]);
});
