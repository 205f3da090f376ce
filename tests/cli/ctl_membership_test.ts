/**
 * `edgeraft members add/promote/remove`, `leader transfer` and `snapshot save` as real
 * processes against a real 3-node cluster and a fourth node process: the operator adds node 4
 * as a learner with ctl, starts it with `--join` (which finds it added), lists it, promotes it
 * once it has caught up, hands it the leadership, removes it while it leads (it hands over
 * first, then exits 0 on its own), and saves a backup that `decodeBackup` reads back with the
 * values written.
 *
 * @module
 */

import assert from "node:assert/strict";
import { StateMachine } from "../../src/state/state_machine.ts";
import { decodeBackup } from "../../src/storage/backup_file.ts";
import { startCluster } from "../process/cluster_fixture.ts";
import { freePort } from "../process/net.ts";
import { NodeChild } from "../process/node_child.ts";
import { poll } from "../process/poll.ts";
import { ctl } from "./ctl_process.ts";

const SECRET = "test-secret"; // the cluster fixture's

interface Listed {
  id: number;
  role: string;
  peerUrl: string;
  clientUrl: string;
  matchIndex: number | null;
}

Deno.test({
  name: "ctl: add a learner, list, promote, transfer leadership, remove, save a snapshot",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const c = await startCluster({ nodes: 3 });
    const root = await Deno.makeTempDir({ prefix: "edgeraft-ctl-members-" });
    let node4: NodeChild | undefined;
    try {
      await c.waitForLeader();
      const endpoints = c.ids.map((id) => c.clientUrl(id));
      const run = (args: string[]) => ctl(args, { endpoints });
      const ok = async (args: string[]) => {
        const r = await run(args);
        assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
        return r.stdout.trim();
      };
      const members = async () => JSON.parse(await ok(["members", "--json"])) as Listed[];
      await ok(["put", "app/flag", '{"on":true}']);

      const [clientPort, peerPort] = [freePort(), freePort()];
      const clientUrl = `http://127.0.0.1:${clientPort}`;
      const peerUrl = `http://127.0.0.1:${peerPort}`;

      await t.step("members add: a learner, its id printed", async () => {
        assert.equal(
          await ok([
            "members",
            "add",
            "--peer-url",
            peerUrl,
            "--client-url",
            clientUrl,
            "--id",
            "4",
          ]),
          "4",
        );
        const again = await run([
          "members",
          "add",
          "--peer-url",
          peerUrl,
          "--client-url",
          clientUrl,
        ]);
        assert.equal(again.code, 1);
        assert.match(again.stderr, /^edgeraft: Already a member: node 4 already uses/);
        const four = (await members()).find((m) => m.id === 4);
        assert.deepEqual(
          [four?.role, four?.peerUrl, four?.clientUrl],
          ["learner", peerUrl, clientUrl],
        );
      });

      await t.step("the node starts with --join and catches up; members lists it", async () => {
        node4 = NodeChild.spawn([
          ...["--id", "4", "--data-dir", `${root}/n4`, "--join", endpoints[0]],
          ...["--client-port", String(clientPort), "--peer-port", String(peerPort)],
          ...["--cluster-secret", SECRET, "--log-format", "json"],
        ]);
        const n4 = node4;
        await poll(async () => {
          const r = await fetch(`${clientUrl}/v1/config/app/flag?consistency=stale`)
            .catch(() => undefined);
          const body = r?.ok ? await r.json() : await r?.body?.cancel();
          return body?.value?.on === true || undefined;
        }, { what: `node 4 to catch up:\n${n4.text()}`, timeoutMs: 30_000, intervalMs: 100 });
        const table = await ok(["members"]);
        assert.match(table, new RegExp(`\\n4\\s+${clientUrl}\\s+${peerUrl}\\s+learner\\s+\\d+`));
      });

      await t.step("members promote: refused while behind, then a voter", async () => {
        // It may take a heartbeat or two to be within the leader's catch-up bound.
        await poll(async () => {
          const r = await run(["members", "promote", "4"]);
          if (r.code === 0) return true;
          assert.equal(r.code, 1, r.stderr);
          assert.match(r.stderr, /not caught up/);
          return undefined;
        }, { what: "the promotion", timeoutMs: 15_000, intervalMs: 200 });
        const roles = (await members()).map((m) => [m.id, m.role]);
        assert.deepEqual(roles, [[1, "voter"], [2, "voter"], [3, "voter"], [4, "voter"]]);
        const again = await run(["members", "promote", "4"]);
        assert.equal(again.code, 1);
        assert.match(again.stderr, /voter already/);
      });

      await t.step("leader transfer --to 4: node 4 leads", async () => {
        assert.equal(await ok(["leader", "transfer", "--to", "4"]), "4");
        // The node that handed over knows at once; node 1 once node 4's first message arrives.
        const view = await poll(async () => {
          const v = await (await fetch(`${endpoints[0]}/v1/cluster`)).json();
          return v.leaderId === 4 ? v : undefined;
        }, { what: "node 1 to know node 4 leads", timeoutMs: 10_000 });
        // The members that joined are named from the directory: X-Leader is node 4's URL.
        const row = view.members.find((m: { id: number }) => m.id === 4);
        assert.deepEqual([row.url, row.peerUrl, row.role], [clientUrl, peerUrl, "leader"]);
      });

      await t.step("members remove 4 while it leads: it hands over, then exits 0", async () => {
        const removed = await run(["members", "remove", "4", "--json"]);
        assert.equal(removed.code, 0, removed.stderr);
        assert.deepEqual(JSON.parse(removed.stdout), { removed: 4 });
        assert.deepEqual((await members()).map((m) => m.id), [1, 2, 3]);
        const leader = await c.waitForLeader();
        assert.ok([1, 2, 3].includes(leader));
        let timer: ReturnType<typeof setTimeout> | undefined;
        const status = await Promise.race([
          node4!.exited,
          new Promise<undefined>((r) => timer = setTimeout(r, 15_000, undefined)),
        ]);
        clearTimeout(timer);
        assert.equal(status?.code, 0, `node 4 should exit 0 once removed:\n${node4!.text()}`);
        // The cluster still writes.
        await ok(["put", "app/after", "2"]);
      });

      await t.step("snapshot save: a backup decodeBackup reads, with the values", async () => {
        const file = `${root}/cluster.backup`;
        const saved = JSON.parse(await ok(["snapshot", "save", file, "--json"]));
        const backup = await decodeBackup(await Deno.readFile(file));
        assert.deepEqual(saved, {
          file,
          index: backup.index,
          term: backup.term,
          bytes: (await Deno.stat(file)).size,
        });
        assert.deepEqual(backup.conf, { voters: [1, 2, 3], learners: [] });
        const sm = StateMachine.restore(backup.data);
        assert.deepEqual(sm.get("app/flag")?.value, { on: true });
        assert.equal(sm.get("app/after")?.value, 2);
        await assert.rejects(Deno.stat(`${file}.partial`));
        const plain = await ok(["snapshot", "save", file]);
        assert.match(plain, new RegExp(`^${file}: index \\d+, term \\d+, \\d+ bytes$`));
      });
    } finally {
      await node4?.stop();
      await c.stop();
      await Deno.remove(root, { recursive: true }).catch(() => {});
    }
  },
});
