/**
 * `edgeraft` (issue 14) as a real process against a real 3-node cluster: every command, its
 * output (tables, plain values, --json), its errors (one stderr line, exit codes 1, 2, 3) and
 * --help. One cluster for all the steps; `run-locked` has its own file.
 *
 * @module
 */

import assert from "node:assert/strict";
import { COMMANDS } from "../../src/cli/ctl/commands.ts";
import { startCluster } from "../process/cluster_fixture.ts";
import { freePort } from "../process/net.ts";
import { poll } from "../process/poll.ts";
import { ctl, spawnCtl } from "./ctl_process.ts";

Deno.test("ctl: --help on every command, usage mistakes exit 2 (no cluster needed)", async () => {
  const top = await ctl(["--help"]);
  assert.equal(top.code, 0);
  for (const command of COMMANDS) {
    assert.match(top.stdout, new RegExp(`\\n  ${command.words.join(" ")} `));
  }
  const helps = await Promise.all(COMMANDS.map((c) => ctl([...c.words, "--help"])));
  for (const [i, help] of helps.entries()) {
    assert.equal(help.code, 0, COMMANDS[i].usage);
    assert.ok(help.stdout.startsWith(`Usage: edgeraft ${COMMANDS[i].usage}`), help.stdout);
    assert.match(help.stdout, /Exit codes: 0 ok, 1 refused/);
  }
  const mistakes = [
    ["bogus"],
    [],
    ["get"],
    ["get", "a", "b"],
    ["get", "a", "--nope"],
    ["lock", "acquire", "x"],
    ["lock", "acquire", "x", "--ttl", "30"],
    ["put", "k", "not json"],
    ["list", "--limit", "0"],
    ["run-locked", "x"],
    ["get", "a", "--endpoints", "ftp://x"],
    ["members", "add", "--client-url", "http://h:1"],
    ["members", "add", "--peer-url", "h:1", "--client-url", "http://h:1"],
    ["members", "add", "--peer-url", "http://h:1", "--client-url", "http://h:2", "--id", "0"],
    ["members", "promote"],
    ["members", "promote", "x"],
    ["members", "remove", "1", "2"],
    ["leader", "transfer", "--to", "zero"],
    ["snapshot", "save"],
  ];
  const results = await Promise.all(mistakes.map((args) => ctl(args)));
  for (const [i, result] of results.entries()) {
    assert.equal(result.code, 2, `${mistakes[i].join(" ")}: ${result.stderr}`);
    assert.match(result.stderr, /^edgeraft: /, mistakes[i].join(" "));
  }
});

Deno.test({
  name: "ctl: every command against a real cluster",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const c = await startCluster({ nodes: 3 });
    try {
      await c.waitForLeader();
      const endpoints = c.ids.map((id) => c.clientUrl(id));
      const run = (args: string[], opts: { input?: string; env?: Record<string, string> } = {}) =>
        ctl(args, { endpoints, ...opts });

      await t.step("put, get (plain and --json), --stale, stdin", async () => {
        const put = await run(["put", "app/flags", '{"beta":true}']);
        assert.equal(put.code, 0, put.stderr);
        const revision = Number(put.stdout.trim());
        assert.ok(revision > 0);
        assert.equal((await run(["put", "app/name", '"edge"'])).code, 0);
        assert.equal((await run(["get", "app/name"])).stdout, "edge\n");
        assert.equal((await run(["get", "app/flags", "--stale"])).stdout, '{"beta":true}\n');
        const json = JSON.parse((await run(["get", "app/flags", "--json"])).stdout);
        assert.deepEqual(json.value, { beta: true });
        assert.equal(json.revision, revision);
        const piped = await run(["put", "app/list", "-"], { input: "[1, 2, 3]\n" });
        assert.equal(piped.code, 0, piped.stderr);
        assert.equal((await run(["get", "app/list"])).stdout, "[1,2,3]\n");
      });

      await t.step("refusals exit 1 with the problem on one stderr line", async () => {
        const missing = await run(["get", "app/none"]);
        assert.equal(missing.code, 1);
        assert.equal(missing.stdout, "");
        assert.match(missing.stderr, /not found: app\/none/);
        const cas = await run(["put", "app/name", '"x"', "--if-revision", "1"]);
        assert.equal(cas.code, 1);
        assert.match(cas.stderr, /^edgeraft: A precondition failed: .*revision/);
        assert.equal(cas.stderr.trim().split("\n").length, 1);
        const create = await run(["put", "app/name", '"x"', "--create"]);
        assert.equal(create.code, 1);
        const fresh = await run(["put", "app/new", "1", "--create"]);
        assert.equal(fresh.code, 0);
        const rev = Number(fresh.stdout);
        assert.equal((await run(["put", "app/new", "2", "--if-revision", `${rev}`])).code, 0);
      });

      await t.step("list: a table, --limit, --json", async () => {
        const table = await run(["list", "app/"]);
        assert.equal(table.code, 0);
        const lines = table.stdout.trim().split("\n");
        assert.match(lines[0], /^KEY\s+REVISION\s+VALUE$/);
        assert.deepEqual(lines.slice(1).map((l) => l.split(/\s+/)[0]), [
          "app/flags",
          "app/list",
          "app/name",
          "app/new",
        ]);
        // Columns are aligned: every value starts where the header's VALUE does.
        const column = lines[0].indexOf("VALUE");
        for (const line of lines.slice(1)) assert.notEqual(line[column - 1], undefined);
        assert.equal(lines[1].indexOf('{"beta":true}'), column);
        const limited = JSON.parse((await run(["list", "app/", "--limit", "2", "--json"])).stdout);
        assert.deepEqual(limited.items.map((i: { key: string }) => i.key), [
          "app/flags",
          "app/list",
        ]);
      });

      await t.step("del: the revision, then 1 for an absent key", async () => {
        const del = await run(["del", "app/list"]);
        assert.equal(del.code, 0, del.stderr);
        assert.ok(Number(del.stdout) > 0);
        assert.equal((await run(["del", "app/list"])).code, 1);
      });

      await t.step("watch: a line per event until SIGINT, through a node's death", async () => {
        const leader = await c.waitForLeader();
        // The watch starts on a follower, which is then killed: it resumes on another node.
        const follower = c.ids.find((id) => id !== leader)!;
        const order = [follower, ...c.ids.filter((id) => id !== follower)];
        const from = Number((await run(["put", "w/a", "1"])).stdout);
        const watch = spawnCtl(["watch", "w/", "--from-revision", `${from}`], {
          endpoints: order.map((id) => c.clientUrl(id)),
        });
        await poll(() => watch.stdout.length >= 1 || undefined, { what: "the first event" });
        assert.equal(watch.stdout[0], `put w/a ${from} 1`);
        await c.kill(follower);
        await run(["put", "w/b", '"two"']);
        await run(["del", "w/a"]);
        await poll(() => watch.stdout.length >= 3 || undefined, {
          what: "events after the kill",
          timeoutMs: 20_000,
        });
        assert.match(watch.stdout[1], /^put w\/b \d+ two$/);
        assert.match(watch.stdout[2], /^delete w\/a \d+$/);
        watch.process.kill("SIGINT");
        assert.equal((await watch.process.status).code, 0);
        await watch.done;
        await c.restart(follower);
        const json = spawnCtl(["watch", "w/", "--from-revision", `${from}`, "--json"], {
          endpoints,
        });
        await poll(() => json.stdout.length >= 3 || undefined, { what: "json events" });
        assert.deepEqual(JSON.parse(json.stdout[0]), {
          type: "put",
          key: "w/a",
          value: 1,
          revision: from,
          createRevision: from,
          version: 1,
        });
        json.process.kill("SIGTERM");
        assert.equal((await json.process.status).code, 0);
        await json.done;
      });

      await t.step("lock acquire, show, renew, release; a held lock exits 1", async () => {
        const acquired = await run(["lock", "acquire", "jobs/a", "--ttl", "30s", "--owner", "me"]);
        assert.equal(acquired.code, 0, acquired.stderr);
        const token = acquired.stdout.trim();
        assert.ok(Number(token) > 0);
        const held = await run(["lock", "acquire", "jobs/a", "--ttl", "5s", "--wait", "200ms"]);
        assert.equal(held.code, 1);
        assert.match(held.stderr, new RegExp(`held by me with token ${token}`));
        const show = await run(["lock", "show", "jobs/a"]);
        assert.match(show.stdout, /^STATE\s+TOKEN\s+OWNER\s+UNTIL\nholder\s+\d+\s+me\s+\d{4}-/);
        const shown = JSON.parse((await run(["lock", "show", "jobs/a", "--json"])).stdout);
        assert.equal(shown.holder.token, Number(token));
        const renewed = await run(["lock", "renew", "jobs/a", token]);
        assert.equal(renewed.code, 0, renewed.stderr);
        assert.ok(Number(renewed.stdout) >= shown.holder.expiresAt);
        assert.equal((await run(["lock", "release", "jobs/a", token])).code, 0);
        assert.equal((await run(["lock", "show", "jobs/a"])).stdout, "jobs/a: free\n");
        const stale = await run(["lock", "release", "jobs/a", token]);
        assert.equal(stale.code, 1);
        assert.equal((await run(["lock", "renew", "jobs/a", token])).code, 1);
        const json = JSON.parse(
          (await run(["lock", "acquire", "jobs/b", "--ttl", "2s", "--json"])).stdout,
        );
        assert.equal(json.name, "jobs/b");
        assert.match(json.owner, /^edgeraft@/);
      });

      await t.step("status and members: tables of the cluster; --json", async () => {
        const leader = await c.waitForLeader();
        const status = await run(["status"]);
        assert.equal(status.code, 0, status.stderr);
        const lines = status.stdout.trim().split("\n");
        assert.match(lines[0], new RegExp(`^cluster \\S+  leader ${leader}  term \\d+$`));
        assert.match(lines[1], /^ID\s+URL\s+ROLE\s+TERM\s+COMMIT\s+APPLIED\s+MATCH\s+LAG$/);
        assert.equal(lines.length, 5);
        assert.match(lines[1 + leader], new RegExp(`^${leader}\\s+\\S+\\s+leader\\s+\\d+`));
        const json = JSON.parse((await run(["status", "--json"])).stdout);
        assert.equal(json.leaderId, leader);
        assert.equal(json.members.length, 3);
        assert.ok(json.members.every((m: { reachable: boolean }) => m.reachable));
        // A dead member is a row saying so, not a failure of the command.
        const down = c.ids.find((id) => id !== leader)!;
        await c.kill(down);
        const partial = JSON.parse((await run(["status", "--json"])).stdout);
        const row = partial.members.find((m: { id: number }) => m.id === down);
        assert.equal(row.reachable, false);
        assert.equal(row.lag, null);
        await c.restart(down);
        const members = await run(["members"]);
        assert.match(
          members.stdout,
          /^ID\s+URL\s+PEER URL\s+ROLE\s+MATCH\s+CONTACT\n1\s+http\S+\s+http\S+\s+voter/,
        );
        assert.equal(JSON.parse((await run(["members", "--json"])).stdout).length, 3);
      });

      await t.step("membership refusals exit 1 with the server's reason", async () => {
        // The changes themselves run in ctl_membership_test.ts, on a cluster of their own.
        const refusals: [string[], RegExp][] = [
          [["members", "promote", "99"], /No such member: node 99 is no member/],
          [["members", "remove", "99"], /No such member/],
          [["leader", "transfer", "--to", "99"], /node 99 is no voter/],
          [
            ["members", "add", "--peer-url", "http://127.0.0.1:1/x", "--client-url", "http://h:2"],
            /peerUrl must be an http\(s\) URL .*no path/,
          ],
        ];
        for (const [args, reason] of refusals) {
          const result = await run(args);
          assert.equal(result.code, 1, `${args.join(" ")}: ${result.stderr}`);
          assert.match(result.stderr, reason, args.join(" "));
        }
      });

      await t.step("endpoints: flag over env; failover past a dead endpoint", async () => {
        const dead = `http://127.0.0.1:${freePort()}`;
        const viaFlag = await ctl([
          "get",
          "app/name",
          "--endpoints",
          [dead, ...endpoints].join(","),
        ], {
          env: { EDGERAFT_ENDPOINTS: dead },
        });
        assert.equal(viaFlag.code, 0, viaFlag.stderr);
        assert.equal(viaFlag.stdout, "edge\n");
      });

      await t.step("unreachable: exit 3", async () => {
        const dead = `http://127.0.0.1:${freePort()}`;
        const result = await ctl(["get", "app/name"], { endpoints: [dead] });
        assert.equal(result.code, 3);
        assert.match(result.stderr, /^edgeraft: no endpoint answered .*Connection refused/);
      });
    } finally {
      await c.stop();
    }
  },
});
