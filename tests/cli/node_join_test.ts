/**
 * The join's conversation with a member (src/cli/join.ts), against a scripted member on a
 * loopback port: it asks again while the cluster has no leader or the answering member has
 * not applied the addition yet, moves on to the next URL when one answers nothing, and gives
 * up with one sentence at its deadline.
 */

import assert from "node:assert/strict";
import { joinCluster, JoinError } from "../../src/cli/join.ts";
import { encodeBackup } from "../../src/storage/backup_file.ts";
import { freePort } from "../process/net.ts";

/** A member whose answers to each path come from `script`, in order (the last one repeats). */
async function scriptedMember(
  script: Record<string, (() => Response | Promise<Response>)[]>,
  body: (fn: { url: string; calls: string[] }) => Promise<void>,
): Promise<void> {
  const calls: string[] = [];
  const seen = new Map<string, number>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    const key = `${req.method} ${new URL(req.url).pathname}`;
    calls.push(key);
    const answers = script[key];
    if (answers === undefined) return new Response("no such route", { status: 404 });
    const n = seen.get(key) ?? 0;
    seen.set(key, n + 1);
    return answers[Math.min(n, answers.length - 1)]();
  });
  try {
    await body({ url: `http://127.0.0.1:${server.addr.port}`, calls });
  } finally {
    await server.shutdown();
  }
}

const problem = (status: number, code: string, detail: string) => () =>
  Response.json({ type: `urn:edgeraft:problem:${code}`, title: code, status, detail }, {
    status,
    headers: { "content-type": "application/problem+json" },
  });

const backupWith = (learners: number[]) => async () =>
  new Response(
    await encodeBackup({
      clusterId: "c-test",
      index: 40,
      term: 3,
      conf: { voters: [1, 2, 3], learners },
      data: new Uint8Array([0x80]),
    }) as Uint8Array<ArrayBuffer>,
  );

Deno.test("join: asks again while there is no leader and until the snapshot includes it", async () => {
  await scriptedMember({
    "GET /v1/members": [
      problem(503, "no-leader", "no leader is known"),
      () => Response.json([{ id: 1, peerUrl: "http://127.0.0.1:7101", role: "voter" }]),
    ],
    "POST /v1/members": [
      problem(409, "change-in-progress", "another membership change is in progress"),
      () => Response.json({ id: 4, peerUrl: "http://p4", role: "learner" }, { status: 201 }),
    ],
    "GET /v1/snapshot": [backupWith([]), backupWith([4])],
  }, async ({ url, calls }) => {
    const nobody = `http://127.0.0.1:${freePort()}`;
    const events: string[] = [];
    const joined = await joinCluster({
      urls: [nobody, url],
      peerUrl: "http://p4",
      clientUrl: "http://c4",
      retryMs: 10,
      log: (event, fields) => events.push(`${event} ${JSON.stringify(fields)}`),
    });
    assert.equal(joined.id, 4);
    assert.equal(joined.via, url);
    assert.equal(joined.backup.clusterId, "c-test");
    assert.deepEqual(calls, [
      "GET /v1/members", // 503
      "GET /v1/members",
      "POST /v1/members", // 409 change-in-progress
      "GET /v1/members",
      "POST /v1/members",
      "GET /v1/snapshot", // taken before the addition applied there
      "GET /v1/snapshot",
    ]);
    assert.ok(events.some((e) => e.includes("no leader is known")), events.join("\n"));
    assert.ok(events.some((e) => e.includes("does not include node 4 yet")), events.join("\n"));
  });
});

Deno.test("join: gives up at its deadline with one sentence saying why", async () => {
  await scriptedMember({
    "GET /v1/members": [problem(503, "no-leader", "no leader is known")],
  }, async ({ url }) => {
    await assert.rejects(
      joinCluster({
        urls: [url],
        peerUrl: "http://p4",
        clientUrl: "http://c4",
        timeoutMs: 200,
        retryMs: 20,
      }),
      (e) =>
        e instanceof JoinError &&
        new RegExp(`^could not join through ${url} within 200 ms: GET .*: 503 no-leader: no leader`)
          .test(e.message) &&
        !e.message.includes("\n"),
    );
  });
});

Deno.test("join: an id the cluster gave another peer URL is refused before anything is added", async () => {
  await scriptedMember({
    "GET /v1/members": [() => Response.json([{ id: 4, peerUrl: "http://p4", role: "learner" }])],
  }, async ({ url, calls }) => {
    await assert.rejects(
      joinCluster({ urls: [url], id: 5, peerUrl: "http://p4", clientUrl: "http://c4" }),
      (e) =>
        e instanceof JoinError &&
        /has node 4 at http:\/\/p4 already, but --id says 5/.test(e.message),
    );
    assert.deepEqual(calls, ["GET /v1/members"]);
  });
});
