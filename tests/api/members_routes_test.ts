/**
 * The membership and backup routes over a fake node: what each answers, how refusals read
 * (problem+json whose type ends in the node's code), that bad input is refused before the node
 * is asked, the admin scope, the backup file, `maxStalenessMs`, and member URLs from the
 * node's directory.
 */

import assert from "node:assert/strict";
import { MembershipError } from "../../src/node/membership.ts";
import { decodeBackup } from "../../src/storage/backup_file.ts";
import { StateMachine } from "../../src/state/state_machine.ts";
import { makeApp, send } from "./harness.ts";

const LEARNER = { peerUrl: "http://127.0.0.1:7104", clientUrl: "http://127.0.0.1:7004" };

Deno.test("members: list, add a learner, promote, transfer, remove", async () => {
  const { app, node } = makeApp();
  const m = node.membership!;

  const listed = await send(app, "GET", "/v1/members");
  assert.equal(listed.status, 200);
  assert.equal(listed.headers.get("cache-control"), "no-store");
  assert.deepEqual(listed.body.map((x: { id: number }) => x.id), [1, 2, 3]);
  assert.deepEqual(Object.keys(listed.body[1]).sort(), [
    "clientUrl",
    "id",
    "lastContactMs",
    "matchIndex",
    "peerUrl",
    "role",
  ]);

  // A trailing slash is the same member: the node gets the URL's origin.
  const added = await send(app, "POST", "/v1/members", {
    json: { peerUrl: "http://127.0.0.1:7104/", clientUrl: LEARNER.clientUrl, role: "learner" },
  });
  assert.equal(added.status, 201, added.text);
  assert.equal(added.headers.get("location"), "/v1/members/4");
  assert.deepEqual(added.body, {
    id: 4,
    ...LEARNER,
    role: "learner",
    matchIndex: 0,
    lastContactMs: null,
  });
  assert.deepEqual(m.requests.at(-1), { op: "add", id: undefined, ...LEARNER });

  const withId = await send(app, "POST", "/v1/members", {
    json: { id: 9, peerUrl: "https://n9.example:7109", clientUrl: "https://n9.example" },
  });
  assert.equal(withId.status, 201, withId.text);
  assert.equal(withId.body.id, 9);
  assert.equal(withId.body.clientUrl, "https://n9.example");

  const promoted = await send(app, "POST", "/v1/members/4/promote");
  assert.equal(promoted.status, 200, promoted.text);
  assert.equal(promoted.body.role, "voter");

  const transferred = await send(app, "POST", "/v1/leader/transfer");
  assert.deepEqual([transferred.status, transferred.body], [200, { leader: 2 }]);
  const to = await send(app, "POST", "/v1/leader/transfer", { json: { to: 3 } });
  assert.deepEqual([to.status, to.body], [200, { leader: 3 }]);
  assert.deepEqual(m.requests.slice(-2), [{ op: "transfer", to: undefined }, {
    op: "transfer",
    to: 3,
  }]);

  const removed = await send(app, "DELETE", "/v1/members/4");
  assert.deepEqual([removed.status, removed.body], [200, { removed: 4 }]);
});

Deno.test("members: bad input is a 400 naming the field, and the node is not asked", async () => {
  const { app, node } = makeApp();
  const m = node.membership!;
  const cases: [string, string, unknown, RegExp][] = [
    ["POST", "/v1/members", { ...LEARNER, role: "voter" }, /role must be "learner".*promote/],
    ["POST", "/v1/members", { clientUrl: LEARNER.clientUrl }, /body\.peerUrl/],
    ["POST", "/v1/members", { ...LEARNER, peerUrl: "ftp://h:1" }, /peerUrl .*not http/],
    ["POST", "/v1/members", { ...LEARNER, peerUrl: "http://h:1/raft" }, /no path/],
    ["POST", "/v1/members", { ...LEARNER, clientUrl: "http://u:p@h:1" }, /credentials/],
    ["POST", "/v1/members", { ...LEARNER, clientUrl: "not a url" }, /not a URL/],
    ["POST", "/v1/members", { ...LEARNER, id: 0 }, /id must be an integer >= 1/],
    ["POST", "/v1/members", { ...LEARNER, id: 1.5 }, /id must be an integer >= 1/],
    ["POST", "/v1/members", { ...LEARNER, extra: true }, /unknown field.*extra/],
    ["POST", "/v1/members", [], /body/],
    ["POST", "/v1/members/0/promote", undefined, /id must be a decimal integer >= 1/],
    ["POST", "/v1/members/abc/promote", undefined, /id must be/],
    ["DELETE", "/v1/members/-1", undefined, /id must be/],
    ["DELETE", "/v1/members/9999999999999999", undefined, /id is too large/],
    ["POST", "/v1/leader/transfer", { to: "2" }, /to must be an integer >= 1/],
    ["POST", "/v1/leader/transfer", { leader: 2 }, /unknown field/],
  ];
  for (const [method, path, json, detail] of cases) {
    const a = await send(app, method, path, { json });
    assert.equal(a.status, 400, `${method} ${path} ${JSON.stringify(json)}: ${a.text}`);
    assert.equal(a.headers.get("content-type"), "application/problem+json");
    assert.equal(a.body.type, "urn:edgeraft:problem:invalid-request");
    assert.match(a.body.detail, detail);
  }
  const empty = await send(app, "POST", "/v1/members");
  assert.equal(empty.status, 400);
  const notJson = await send(app, "POST", "/v1/members", {
    body: JSON.stringify(LEARNER),
    headers: { "content-type": "text/plain" },
  });
  assert.equal(notJson.status, 415);
  assert.deepEqual(m.requests, []);
  assert.equal(m.members.size, 3);
});

Deno.test("members: refusals are problems whose type ends in the node's code", async () => {
  const { app, node } = makeApp();
  const m = node.membership!;
  await send(app, "POST", "/v1/members", { json: LEARNER });
  m.behind.add(4);

  const behind = await send(app, "POST", "/v1/members/4/promote");
  assert.equal(behind.status, 409);
  assert.equal(behind.body.type, "urn:edgeraft:problem:not-caught-up");
  assert.equal(behind.body.title, "The learner has not caught up with the leader");
  assert.match(behind.body.detail, /learner 4 is 5000 entries behind/);

  const taken = await send(app, "POST", "/v1/members", { json: LEARNER });
  assert.deepEqual([taken.status, taken.body.type], [409, "urn:edgeraft:problem:already-member"]);
  const unknown = await send(app, "DELETE", "/v1/members/42");
  assert.deepEqual([unknown.status, unknown.body.type], [
    404,
    "urn:edgeraft:problem:unknown-member",
  ]);
  const voter = await send(app, "POST", "/v1/members/2/promote");
  assert.deepEqual([voter.status, voter.body.type], [409, "urn:edgeraft:problem:already-voter"]);

  for (const id of [2, 3]) {
    assert.equal((await send(app, "DELETE", `/v1/members/${id}`)).status, 200);
  }
  m.members.delete(4);
  const last = await send(app, "DELETE", "/v1/members/1");
  assert.deepEqual([last.status, last.body.type], [409, "urn:edgeraft:problem:last-voter"]);

  const table: [MembershipError, number, string][] = [
    [new MembershipError("no-quorum", "1 of 2 answer"), 409, "no-quorum"],
    [new MembershipError("change-in-progress", "busy"), 409, "change-in-progress"],
    [new MembershipError("transfer-failed", "slow"), 503, "transfer-failed"],
    [new MembershipError("no-leader", "none"), 503, "no-leader"],
    [new MembershipError("outcome-unknown", "lost"), 504, "outcome-unknown"],
    [new MembershipError("bad-request", "odd"), 400, "invalid-request"],
  ];
  for (const [error, status, code] of table) {
    m.failNext = error;
    const a = await send(app, "POST", "/v1/leader/transfer", { json: {} });
    assert.equal(a.status, status, code);
    assert.equal(a.body.type, `urn:edgeraft:problem:${code}`);
    assert.equal(a.body.detail, error.message);
    assert.equal(a.headers.get("retry-after"), status === 503 ? "1" : null, code);
  }

  // A node without membership says so.
  node.membership = undefined;
  const none = await send(app, "GET", "/v1/members");
  assert.deepEqual([none.status, none.body.type], [501, "urn:edgeraft:problem:not-implemented"]);
});

Deno.test("members and snapshot: admin scope when tokens are configured", async () => {
  const { app } = makeApp({
    tokens: [
      { name: "ops", token: "admin-token", scopes: ["admin"] },
      { name: "app", token: "rw-token", scopes: ["read", "write", "lock"] },
    ],
  });
  const requests: [string, string, unknown][] = [
    ["GET", "/v1/members", undefined],
    ["POST", "/v1/members", LEARNER],
    ["POST", "/v1/members/2/promote", undefined],
    ["DELETE", "/v1/members/2", undefined],
    ["POST", "/v1/leader/transfer", undefined],
    ["GET", "/v1/snapshot", undefined],
  ];
  for (const [method, path, json] of requests) {
    const anonymous = await send(app, method, path, { json });
    assert.equal(anonymous.status, 401, `${method} ${path}`);
    const app_ = await send(app, method, path, {
      json,
      headers: { authorization: "Bearer rw-token" },
    });
    assert.equal(app_.status, 403, `${method} ${path}`);
    assert.match(app_.body.detail, /this needs admin/);
  }
  const ok = await send(app, "GET", "/v1/members", {
    headers: { authorization: "Bearer admin-token" },
  });
  assert.equal(ok.status, 200);
});

Deno.test("snapshot: the backup file's bytes, with its index, term and a file name", async () => {
  const { app, node } = makeApp();
  await node.submit({ cmd: { op: "put", key: "app/a", value: { on: true } } });
  await node.submit({ cmd: { op: "put", key: "app/b", value: 2 } });
  const response = await app.request("/v1/snapshot");
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "application/octet-stream");
  assert.equal(response.headers.get("x-snapshot-index"), String(node.appliedIndex()));
  assert.equal(response.headers.get("x-snapshot-term"), "1");
  assert.equal(
    response.headers.get("content-disposition"),
    `attachment; filename="edgeraft-test-${node.appliedIndex()}.backup"`,
  );
  const backup = await decodeBackup(new Uint8Array(await response.arrayBuffer()));
  assert.equal(backup.index, node.appliedIndex());
  assert.equal(backup.clusterId, "test");
  const restored = StateMachine.restore(backup.data);
  assert.deepEqual(restored.get("app/a")?.value, { on: true });
  assert.equal(restored.revision, node.revision());
  assert.equal(node.reads, 1, "a linearizable read first: every acknowledged write is in it");

  node.leader = 2;
  node.lastContact = node.clock.now() - 40;
  const stale = await app.request("/v1/snapshot?consistency=stale");
  assert.equal(stale.status, 200);
  assert.equal(stale.headers.get("x-last-contact-ms"), "40");
  await stale.body?.cancel();
  assert.equal(node.reads, 1, "a stale backup asks no quorum");
});

Deno.test("maxStalenessMs: local within the bound, else linearizable", async () => {
  const { app, node, clock } = makeApp();
  await node.submit({ cmd: { op: "put", key: "app/a", value: 1 } });
  node.leader = 2; // a follower (or a learner) far from the leader
  node.lastContact = clock.now() - 300;

  let reads = node.reads;
  const near = await send(app, "GET", "/v1/config/app/a?maxStalenessMs=500");
  assert.equal(near.status, 200);
  assert.equal(near.headers.get("x-last-contact-ms"), "300");
  assert.match(near.headers.get("cache-control")!, /max-age=1/);
  assert.equal(node.reads, reads, "answered locally");

  const far = await send(app, "GET", "/v1/config/app/a?maxStalenessMs=100");
  assert.equal(far.status, 200);
  assert.equal(far.headers.get("x-last-contact-ms"), null);
  assert.equal(far.headers.get("cache-control"), "no-cache");
  assert.equal(node.reads, ++reads, "served as a linearizable read");

  const list = await send(app, "GET", "/v1/config?prefix=app/&maxStalenessMs=1000");
  assert.equal(list.headers.get("x-last-contact-ms"), "300");
  assert.equal(node.reads, reads);
  const lock = await send(app, "GET", "/v1/locks/cron?consistency=stale&maxStalenessMs=1");
  assert.equal(lock.status, 200);
  assert.equal(node.reads, ++reads);

  node.lastContact = 0; // never heard from a leader: never local
  await send(app, "GET", "/v1/config/app/a?maxStalenessMs=100000");
  assert.equal(node.reads, ++reads);
  node.leader = 1; // the leader itself: 0 ms
  const leader = await send(app, "GET", "/v1/config/app/a?maxStalenessMs=0");
  assert.equal(leader.headers.get("x-last-contact-ms"), "0");
  assert.equal(node.reads, reads);

  for (
    const query of [
      "maxStalenessMs=-1",
      "maxStalenessMs=soon",
      "maxStalenessMs=1&consistency=linearizable",
    ]
  ) {
    const bad = await send(app, "GET", `/v1/config/app/a?${query}`);
    assert.equal(bad.status, 400, query);
    assert.match(bad.body.detail, /maxStalenessMs/);
  }
});

Deno.test("cluster: members that joined are named from the node's directory", async () => {
  const { app, node } = makeApp();
  const members = new Map([
    [1, { peerUrl: "http://127.0.0.1:7101", clientUrl: "http://127.0.0.1:7001" }],
    [2, { peerUrl: "http://127.0.0.1:7102", clientUrl: "http://127.0.0.1:7002" }],
    [4, { peerUrl: "http://127.0.0.1:7104", clientUrl: "http://127.0.0.1:7004" }],
  ]);
  node.directory = () => ({ nextId: 5, members });
  const status = node.status.bind(node);
  node.status = () => ({ ...status(), conf: { voters: [1, 2, 4], learners: [] } });
  node.leader = 4;
  const view = await send(app, "GET", "/v1/cluster");
  assert.equal(view.headers.get("x-leader"), "http://127.0.0.1:7004");
  assert.deepEqual(
    view.body.members.map((m: { id: number; url: string; peerUrl: string; role: string }) => [
      m.id,
      m.url,
      m.peerUrl,
      m.role,
    ]),
    [
      [1, "http://127.0.0.1:7001", "http://127.0.0.1:7101", "follower"],
      [2, "http://127.0.0.1:7002", "http://127.0.0.1:7102", "follower"],
      [4, "http://127.0.0.1:7004", "http://127.0.0.1:7104", "leader"],
    ],
    "node 3 was removed: the founding flags no longer list members",
  );
  // The fast path for stale reads names the leader the same way.
  await node.submit({ cmd: { op: "put", key: "app/a", value: 1 } });
  const read = await app.request("/v1/config/app/a?consistency=stale");
  assert.equal(read.headers.get("x-leader"), "http://127.0.0.1:7004");

  node.status = () => ({ ...status(), conf: { voters: [1, 2], learners: [4] } });
  node.leader = 1;
  const learner = await send(app, "GET", "/v1/cluster");
  assert.equal(learner.body.members.find((m: { id: number }) => m.id === 4).role, "learner");
});
