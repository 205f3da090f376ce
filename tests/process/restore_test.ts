/**
 * Backup and restore on real processes: keys written to a 3-node cluster, `GET /v1/snapshot`
 * saved to a file, a new 3-node cluster started from it with `--restore-from` on fresh data
 * directories answers the same values with the same revisions, under a cluster id of its own;
 * started again with the same flags, a restored node recognises its backup and runs. A
 * truncated or corrupt file, or a data directory that is not empty, is refused with one line
 * and exit 2, nothing started and the data directory untouched.
 */

import assert from "node:assert/strict";
import { startCluster } from "./cluster_fixture.ts";
import { freePort, putConfig } from "./net.ts";
import { NodeChild, runNodeToExit } from "./node_child.ts";
import { poll } from "./poll.ts";

const SECRET = "restore-secret";

interface KeyValue {
  key: string;
  value: unknown;
  revision: number;
  createRevision: number;
  version: number;
}

async function getJson(url: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: await res.json().catch(() => undefined) };
}

/** Every key under `app/` with its revisions, as a linearizable read through `url` gives them. */
async function readAll(url: string, keys: string[]): Promise<KeyValue[]> {
  const out: KeyValue[] = [];
  for (const key of keys) {
    const r = await getJson(`${url}/v1/config/${key}`);
    assert.equal(r.status, 200, `${key}: ${JSON.stringify(r.body)}`);
    out.push(r.body as KeyValue);
  }
  return out;
}

/** Exit code 2, one `edgeraft: ...` line matching `pattern`, and nothing else on stderr. */
function assertOneLine(result: { code: number; stderr: string }, pattern: RegExp): void {
  assert.equal(result.code, 2, result.stderr);
  const lines = result.stderr.split("\n");
  assert.equal(lines.length, 1, `not one line:\n${result.stderr}`);
  assert.match(lines[0], /^edgeraft: /);
  assert.match(lines[0], pattern);
}

Deno.test("restore: a backup from GET /v1/snapshot starts a new 3-node cluster with the same values and revisions", async () => {
  const root = await Deno.makeTempDir({ prefix: "edgeraft-restore-" });
  const started: NodeChild[] = [];
  try {
    // The old cluster: keys created, changed, deleted, so revisions and versions differ.
    const old = await startCluster({ nodes: 3 });
    const keys = ["app/a", "app/b", "app/c", "app/flags"];
    let before: KeyValue[];
    let oldClusterId: string;
    try {
      const leader = await old.waitForLeader();
      const url = old.clientUrl(leader);
      for (const [key, value] of [["app/a", 1], ["app/b", "x"], ["app/a", 2], ["app/gone", 0]]) {
        await putConfig(url, key as string, value);
      }
      await fetch(`${url}/v1/config/app/gone`, { method: "DELETE" }).then((r) => r.body?.cancel());
      await putConfig(url, "app/c", { nested: [1, 2, 3] });
      await putConfig(url, "app/flags", { newCheckout: true });
      await putConfig(url, "app/a", 3);
      before = await readAll(url, keys);
      oldClusterId = (await old.status(leader))!.clusterId;
      const res = await fetch(`${url}/v1/snapshot`, { signal: AbortSignal.timeout(5000) });
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-disposition") ?? "", /attachment; filename="edgeraft-/);
      assert.ok(Number(res.headers.get("x-snapshot-index")) >= 9);
      await Deno.writeFile(`${root}/cluster.backup`, new Uint8Array(await res.arrayBuffer()));
    } finally {
      await old.stop();
    }

    // The new cluster, on other ports and fresh data directories.
    const members = [1, 2, 3].map((id) => ({ id, client: freePort(), peer: freePort() }));
    const peers = members.map((m) => `${m.id}=http://127.0.0.1:${m.peer}`).join(",");
    const clientUrls = members.map((m) => `${m.id}=http://127.0.0.1:${m.client}`).join(",");
    const flags = (m: (typeof members)[number]) => [
      ...["--id", String(m.id), "--data-dir", `${root}/n${m.id}`],
      ...["--client-port", String(m.client), "--peer-port", String(m.peer)],
      ...["--peers", peers, "--client-urls", clientUrls, "--cluster-secret", SECRET],
      ...["--log-format", "json", "--restore-from", `${root}/cluster.backup`],
    ];
    for (const m of members) started.push(NodeChild.spawn(flags(m)));
    const url = (id: number) => `http://127.0.0.1:${members[id - 1].client}`;
    for (const m of members) {
      await poll(async () => {
        const r = await getJson(`${url(m.id)}/v1/config/app/a`).catch(() => undefined);
        return r?.status === 200 || undefined;
      }, {
        what: `restored node ${m.id} to answer:\n${started[m.id - 1].text()}`,
        timeoutMs: 20_000,
      });
    }
    for (const m of members) assert.deepEqual(await readAll(url(m.id), keys), before);
    assert.equal((await getJson(`${url(2)}/v1/config/app/gone`)).status, 404);

    const ids = await Promise.all(members.map(async (m) => {
      const identity = JSON.parse(await Deno.readTextFile(`${root}/n${m.id}/node.json`));
      assert.equal(identity.origin, "restored");
      return identity.clusterId as string;
    }));
    assert.equal(new Set(ids).size, 1, "every restored node derived the same cluster id");
    assert.notEqual(ids[0], oldClusterId);
    assert.equal(
      ((await getJson(`${url(3)}/v1/cluster`)).body as { clusterId: string }).clusterId,
      ids[0],
    );

    // The new cluster goes on from the backup's revisions.
    await putConfig(url(1), "app/a", 4);
    const a = (await getJson(`${url(1)}/v1/config/app/a`)).body as KeyValue;
    assert.ok(a.revision > before[0].revision);
    assert.equal(a.version, before[0].version + 1);

    // Started again with the same flags (a unit file keeps them): the backup is recognised.
    assert.equal((await started[2].signal("SIGTERM")).code, 0);
    started[2] = NodeChild.spawn(flags(members[2]));
    await poll(async () => {
      const r = await getJson(`${url(3)}/v1/config/app/a`).catch(() => undefined);
      return (r?.body as KeyValue | undefined)?.value === 4 || undefined;
    }, { what: `the restarted node to answer:\n${started[2].text()}`, timeoutMs: 20_000 });
    assert.ok(started[2].logs().some((l) => /--restore-from is ignored/.test(String(l.event))));
    // Or with its data directory and ports alone: the founding members come from node.json.
    assert.equal((await started[1].signal("SIGTERM")).code, 0);
    started[1] = NodeChild.spawn([
      ...["--data-dir", `${root}/n2`, "--client-port", String(members[1].client)],
      ...[
        "--peer-port",
        String(members[1].peer),
        "--cluster-secret",
        SECRET,
        "--log-format",
        "json",
      ],
    ]);
    await putConfig(url(1), "app/a", 5);
    await poll(async () => {
      const r = await getJson(`${url(2)}/v1/config/app/a`).catch(() => undefined);
      return (r?.body as KeyValue | undefined)?.value === 5 || undefined;
    }, { what: `node 2 restarted alone to answer:\n${started[1].text()}`, timeoutMs: 20_000 });
    const cluster2 = (await getJson(`${url(2)}/v1/cluster`)).body as { members: unknown[] };
    assert.equal(cluster2.members.length, 3, JSON.stringify(cluster2));

    // A data directory that is not empty is refused, untouched.
    await Deno.mkdir(`${root}/used`);
    await Deno.writeTextFile(`${root}/used/raft.kv`, "old data");
    const used = await runNodeToExit([
      ...["--data-dir", `${root}/used`, "--client-port", String(freePort())],
      ...["--peer-port", String(freePort()), "--restore-from", `${root}/cluster.backup`],
    ]);
    assertOneLine(used, /data directory .*\/used is not empty but has no node\.json/);
    assert.equal(await Deno.readTextFile(`${root}/used/raft.kv`), "old data");
  } finally {
    for (const n of started) await n.stop();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("restore: a truncated or corrupt backup is one line and exit 2, nothing started", async () => {
  const root = await Deno.makeTempDir({ prefix: "edgeraft-restore-bad-" });
  try {
    const { encodeBackup } = await import("../../src/storage/backup_file.ts");
    const good = await encodeBackup({
      clusterId: "c-old",
      index: 12,
      term: 2,
      conf: { voters: [1], learners: [] },
      data: new TextEncoder().encode("state machine bytes"),
    });
    const corrupt = good.slice();
    corrupt[corrupt.length - 3] ^= 0xff;
    const files: [string, Uint8Array, RegExp][] = [
      ["truncated", good.subarray(0, good.length - 5), /truncated: its header announces 19 bytes/],
      ["corrupt", corrupt, /corrupt: its data does not match its SHA-256/],
      ["foreign", new TextEncoder().encode("PGDMP"), /not an edgeraft backup/],
    ];
    for (const [name, bytes, pattern] of files) {
      await Deno.writeFile(`${root}/${name}.backup`, bytes);
      const clientPort = freePort();
      const result = await runNodeToExit([
        ...["--data-dir", `${root}/${name}-data`, "--client-port", String(clientPort)],
        ...["--peer-port", String(freePort()), "--restore-from", `${root}/${name}.backup`],
      ]);
      assertOneLine(
        result,
        new RegExp(`--restore-from ${root}/${name}\\.backup: .*${pattern.source}`),
      );
      assert.equal(
        await Deno.stat(`${root}/${name}-data`).catch(() => undefined),
        undefined,
        "the data directory is untouched",
      );
      // Nothing listens: the node stopped before serving.
      await assert.rejects(fetch(`http://127.0.0.1:${clientPort}/healthz`));
    }
    assertOneLine(
      await runNodeToExit(["--restore-from", `${root}/missing.backup`, "--data-dir", `${root}/m`]),
      /cannot read the --restore-from file .*missing\.backup/,
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
