/**
 * `--join` on real processes: a new node joins a running 3-node cluster through one member's
 * client API (added as a learner, started from its snapshot), catches up (reads a key written
 * before it existed), is promoted through the API, and, restarted with nothing but its data
 * directory and ports, is still a voter with the data. A node the operator added first joins
 * under that id, and removed, it exits 0 on its own. A join through a URL that answers nothing,
 * or one the cluster refuses, is one line and exit 2 with the data directory untouched.
 */

import assert from "node:assert/strict";
import { startCluster } from "./cluster_fixture.ts";
import { freePort } from "./net.ts";
import { NodeChild, runNodeToExit } from "./node_child.ts";
import { poll } from "./poll.ts";

const SECRET = "test-secret"; // the fixture's

async function call(
  url: string,
  method: string,
  body?: unknown,
): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(5000),
  });
  const text = await res.text();
  return { status: res.status, body: text === "" ? undefined : JSON.parse(text) };
}

/** The value of `key` as node `url` answers it from its own state; undefined when it cannot. */
async function staleValue(url: string, key: string): Promise<unknown> {
  try {
    const r = await call(`${url}/v1/config/${key}?consistency=stale`, "GET");
    return r.status === 200 ? (r.body as { value: unknown }).value : undefined;
  } catch {
    return undefined;
  }
}

function joinFlags(dataDir: string, clientPort: number, peerPort: number, extra: string[] = []) {
  return [
    ...["--data-dir", dataDir, "--client-port", String(clientPort)],
    ...["--peer-port", String(peerPort), "--cluster-secret", SECRET, "--log-format", "json"],
    ...extra,
  ];
}

Deno.test("join: a node joins with --join, catches up, is promoted, and restarts from its data dir alone", async () => {
  const c = await startCluster({ nodes: 3 });
  const root = await Deno.makeTempDir({ prefix: "edgeraft-join-" });
  const started: NodeChild[] = [];
  try {
    await c.waitForLeader();
    const n1 = c.clientUrl(1);
    assert.equal((await call(`${n1}/v1/config/before`, "PUT", { written: "before" })).status, 200);

    // Joins through node 2; the cluster assigns the id (the next one: 4).
    const [clientPort, peerPort] = [freePort(), freePort()];
    const url = `http://127.0.0.1:${clientPort}`;
    let joiner = NodeChild.spawn(
      joinFlags(`${root}/n4`, clientPort, peerPort, ["--join", c.clientUrl(2)]),
    );
    started.push(joiner);
    await poll(async () => (await staleValue(url, "before")) !== undefined || undefined, {
      what: `the joined node to catch up:\n${joiner.text()}`,
      timeoutMs: 20_000,
    });
    assert.deepEqual(await staleValue(url, "before"), { written: "before" });
    const identity = JSON.parse(await Deno.readTextFile(`${root}/n4/node.json`));
    assert.equal(identity.id, 4);
    assert.equal(identity.origin, "joined");
    assert.equal(identity.clusterId, (await c.status(1))!.clusterId);
    const listed = (await call(`${n1}/v1/members`, "GET")).body as { id: number; role: string }[];
    assert.deepEqual(listed.find((m) => m.id === 4)?.role, "learner");

    // Promoted through another member; it may need a moment to be within the catch-up bound.
    const promoted = await poll(async () => {
      const r = await call(`${c.clientUrl(3)}/v1/members/4/promote`, "POST");
      if (r.status === 200) return r.body as { id: number; role: string };
      assert.equal(r.status, 409, JSON.stringify(r.body));
      return undefined;
    }, { what: "the promotion", timeoutMs: 10_000, intervalMs: 200 });
    assert.equal(promoted.role, "voter");
    assert.equal((await call(`${n1}/v1/config/after`, "PUT", 2)).status, 200);

    // Restarted with its data directory and ports only: no --id, no --join, no --peers.
    assert.equal((await joiner.signal("SIGTERM")).code, 0);
    joiner = NodeChild.spawn(joinFlags(`${root}/n4`, clientPort, peerPort));
    started.push(joiner);
    await poll(async () => (await staleValue(url, "after")) === 2 || undefined, {
      what: `the restarted node to catch up:\n${joiner.text()}`,
      timeoutMs: 20_000,
    });
    const members = (await call(`${url}/v1/members`, "GET")).body as { id: number; role: string }[];
    assert.deepEqual(members.map((m) => [m.id, m.role]), [
      [1, "voter"],
      [2, "voter"],
      [3, "voter"],
      [4, "voter"],
    ]);
    // A linearizable read through it works once it has heard from the leader again (the
    // stale read above may have come from what it had applied before its restart).
    const expected = (await call(`${n1}/v1/config/before`, "GET")).body;
    await poll(async () => {
      const r = await call(`${url}/v1/config/before`, "GET");
      return r.status === 200 ? assert.deepEqual(r.body, expected) ?? true : undefined;
    }, { what: "a linearizable read through the restarted node" });

    // Added by the operator first (id 7 asked for): --join finds it and takes that id.
    const [cp, pp] = [freePort(), freePort()];
    const added = await call(`${n1}/v1/members`, "POST", {
      id: 7,
      peerUrl: `http://127.0.0.1:${pp}`,
      clientUrl: `http://127.0.0.1:${cp}`,
      role: "learner",
    });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    const seven = NodeChild.spawn(joinFlags(`${root}/n7`, cp, pp, ["--join", n1]));
    started.push(seven);
    await poll(
      async () => (await staleValue(`http://127.0.0.1:${cp}`, "after")) === 2 || undefined,
      {
        what: `node 7 to catch up:\n${seven.text()}`,
        timeoutMs: 20_000,
      },
    );
    assert.equal(JSON.parse(await Deno.readTextFile(`${root}/n7/node.json`)).id, 7);
    assert.ok(seven.logs().some((l) => l.event === "join: the cluster has this node already"));

    // Removed through the API, the node says so and exits 0 on its own.
    const removed = await call(`${c.clientUrl(2)}/v1/members/7`, "DELETE");
    assert.deepEqual(removed, { status: 200, body: { removed: 7 } });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const status = await Promise.race([
      seven.exited,
      new Promise<undefined>((r) => timer = setTimeout(r, 15_000, undefined)),
    ]);
    clearTimeout(timer);
    assert.equal(status?.code, 0, `node 7 exits 0 once removed:\n${seven.text()}`);
    assert.ok(seven.logs().some((l) => l.event === "removed from the cluster"));
  } finally {
    for (const n of started) await n.stop();
    await c.stop();
    await Deno.remove(root, { recursive: true });
  }
});

/** Exit code 2, exactly one `edgeraft: ...` line on stderr matching `pattern`, no stack trace. */
function assertOneLine(result: { code: number; stderr: string }, pattern: RegExp): void {
  assert.equal(result.code, 2, result.stderr);
  const lines = result.stderr.split("\n").filter((l) => !l.startsWith("{"));
  assert.equal(lines.length, 1, `not one line:\n${result.stderr}`);
  assert.match(lines[0], /^edgeraft: /);
  assert.match(lines[0], pattern);
}

Deno.test("join: a URL that answers nothing, or a refusal, is one line and exit 2; data dir untouched", async () => {
  const root = await Deno.makeTempDir({ prefix: "edgeraft-join-refused-" });
  try {
    const nobody = `http://127.0.0.1:${freePort()}`;
    const r = await runNodeToExit(
      joinFlags(`${root}/a`, freePort(), freePort(), ["--join", nobody]),
    );
    assertOneLine(r, new RegExp(`cannot reach the cluster to join: ${nobody}: connection refused`));
    assert.equal(await Deno.stat(`${root}/a`).catch(() => undefined), undefined);

    const c = await startCluster({ nodes: 1 });
    try {
      await c.waitForLeader();
      // Node 1 exists at another peer URL: the cluster refuses the id.
      const refused = await runNodeToExit(
        joinFlags(`${root}/b`, freePort(), freePort(), ["--id", "1", "--join", c.clientUrl(1)]),
      );
      assertOneLine(
        refused,
        /the cluster refused the join \(POST .*\/v1\/members: 409 already-member/,
      );
      assert.equal(await Deno.stat(`${root}/b`).catch(() => undefined), undefined);
    } finally {
      await c.stop();
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("join: with tokens, --join-token (admin scope) is needed; without it the join is one line, exit 2", async () => {
  const root = await Deno.makeTempDir({ prefix: "edgeraft-join-token-" });
  const admin = "join-test-admin-token-0123456789";
  const reader = "join-test-read-token-0123456789ab";
  await Deno.writeTextFile(
    `${root}/tokens.json`,
    JSON.stringify([
      { token: admin, scopes: ["admin"] },
      { token: reader, scopes: ["read"] },
    ]),
  );
  const c = await startCluster({ nodes: 1, args: ["--tokens-file", `${root}/tokens.json`] });
  let joiner: NodeChild | undefined;
  try {
    // The fixture's waitForLeader asks without a token: ask with the admin one.
    await poll(async () => {
      const res = await fetch(`${c.clientUrl(1)}/v1/cluster`, {
        headers: { authorization: `Bearer ${admin}` },
        signal: AbortSignal.timeout(1000),
      }).catch(() => undefined);
      return res?.ok ? (await res.json()).leaderId === 1 || undefined : await res?.body?.cancel();
    }, { what: "node 1 to lead" });
    for (const token of [undefined, reader]) {
      const r = await runNodeToExit(joinFlags(`${root}/x`, freePort(), freePort(), [
        ...["--join", c.clientUrl(1)],
        ...(token === undefined ? [] : ["--join-token", token]),
      ]));
      assertOneLine(r, /the cluster refused the join .*40[13].*: give --join-token a token with/);
      assert.equal(await Deno.stat(`${root}/x`).catch(() => undefined), undefined);
    }
    const [clientPort, peerPort] = [freePort(), freePort()];
    joiner = NodeChild.spawn(
      joinFlags(`${root}/n2`, clientPort, peerPort, [
        ...["--join", c.clientUrl(1), "--tokens-file", `${root}/tokens.json`],
      ]),
      { EDGERAFT_JOIN_TOKEN: admin },
    );
    await poll(async () => {
      const res = await fetch(`http://127.0.0.1:${clientPort}/v1/members`, {
        headers: { authorization: `Bearer ${admin}` },
        signal: AbortSignal.timeout(1000),
      }).catch(() => undefined);
      const members = res?.ok ? await res.json() : await res?.body?.cancel();
      return members?.some((m: { id: number }) => m.id === 2) || undefined;
    }, { what: `the node to join with the token:\n${joiner.text()}`, timeoutMs: 20_000 });
  } finally {
    await joiner?.stop();
    await c.stop();
    await Deno.remove(root, { recursive: true });
  }
});
