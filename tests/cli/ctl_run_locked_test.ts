/**
 * `edgeraft run-locked` (issue 14) as a real process against a real 3-node cluster: it runs
 * the command with the fencing token, exits with its code and releases the lock; it refuses
 * (exit 1) when the lock is held; it renews past the ttl; when its lease can no longer be
 * trusted (the process paused past the ttl, another holder took the lock) it stops the command
 * (SIGTERM, then SIGKILL after the grace) and exits 4; and when the node it talks to is killed
 * mid-run it fails over and keeps the lock.
 *
 * @module
 */

import assert from "node:assert/strict";
import { EdgeraftClient, LockHeldError } from "../../src/client/mod.ts";
import { startCluster } from "../process/cluster_fixture.ts";
import { poll } from "../process/poll.ts";
import { ctl, spawnCtl } from "./ctl_process.ts";

Deno.test({
  name: "ctl run-locked: token, exit code, renewals, lease loss and failover",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const c = await startCluster({ nodes: 3 });
    try {
      await c.waitForLeader();
      const endpoints = c.ids.map((id) => c.clientUrl(id));
      const client = new EdgeraftClient({ endpoints, retries: 20 });

      await t.step("runs the command with the token, exits with its code, releases", async () => {
        const result = await ctl([
          "run-locked",
          "jobs/once",
          "--ttl",
          "5s",
          "--",
          "sh",
          "-c",
          'echo "token=$EDGERAFT_LOCK_TOKEN name=$EDGERAFT_LOCK_NAME"; exit 7',
        ], { endpoints });
        assert.equal(result.code, 7, result.stderr);
        assert.match(result.stdout, /^token=\d+ name=jobs\/once\n$/);
        assert.equal((await client.lockState("jobs/once")).holder, null);
        const ok = await ctl(["run-locked", "jobs/once", "--", "true"], { endpoints });
        assert.equal(ok.code, 0, ok.stderr);
      });

      await t.step("a held lock: exit 1, the command does not run", async () => {
        const lease = await client.acquire("jobs/held", { ttlMs: 30_000, owner: "other" });
        const result = await ctl(
          ["run-locked", "jobs/held", "--", "sh", "-c", "echo ran"],
          { endpoints },
        );
        assert.equal(result.code, 1);
        assert.equal(result.stdout, "");
        assert.match(result.stderr, /held by other/);
        await client.release("jobs/held", lease.token);
      });

      await t.step("renews while the command runs past the ttl", async () => {
        const run = spawnCtl(
          ["run-locked", "jobs/long", "--ttl", "1500ms", "--", "sh", "-c", "echo go; sleep 4"],
          { endpoints },
        );
        await poll(() => run.stdout.includes("go") || undefined, { what: "the command" });
        const started = Date.now();
        // Well past the ttl the lock is still held: the renewals keep it.
        await poll(() => Date.now() - started > 2_500 || undefined, { what: "2.5 s" });
        await assert.rejects(client.acquire("jobs/long", { ttlMs: 1_000 }), LockHeldError);
        assert.equal((await run.process.status).code, 0, run.stderr.join("\n"));
        await run.done;
      });

      await t.step("paused past the ttl: the command is stopped, exit 4", async () => {
        const run = spawnCtl([
          "run-locked",
          "jobs/paused",
          "--ttl",
          "1500ms",
          "--",
          "sh",
          "-c",
          "echo $EDGERAFT_LOCK_TOKEN; exec sleep 60",
        ], { endpoints });
        await poll(() => run.stdout.length > 0 || undefined, { what: "the token" });
        const token = Number(run.stdout[0]);
        // Stop the holder's renewals: the lease runs out and someone else takes the lock.
        run.process.kill("SIGSTOP");
        const other = await poll(
          () =>
            client.acquire("jobs/paused", { ttlMs: 10_000, owner: "next" }).catch(() => undefined),
          { what: "the lock to pass to another holder", timeoutMs: 10_000 },
        );
        assert.ok(other.token > token, "fencing tokens increase");
        const resumed = Date.now();
        run.process.kill("SIGCONT");
        const status = await run.process.status;
        await run.done;
        assert.equal(status.code, 4, run.stderr.join("\n"));
        assert.ok(Date.now() - resumed < 3_000, "stopped at once, not after the command ran on");
        const said = run.stderr.join("\n");
        assert.match(said, /lease of jobs\/paused ran out/);
        assert.match(said, /sh was stopped: the lease of jobs\/paused was lost/);
        // The new holder's lock is untouched by the old one's release attempt.
        assert.equal((await client.lockState("jobs/paused")).holder?.token, other.token);
        await client.release("jobs/paused", other.token);
      });

      await t.step("a command that ignores SIGTERM gets SIGKILL after the grace", async () => {
        const script = 'process.on("SIGTERM", () => console.log("ignoring TERM"));' +
          'console.log("up"); setInterval(() => {}, 1000);';
        const run = spawnCtl([
          "run-locked",
          "jobs/stubborn",
          "--ttl",
          "1500ms",
          "--grace",
          "300ms",
          "--",
          "node",
          "-e",
          script,
        ], { endpoints });
        await poll(() => run.stdout.includes("up") || undefined, { what: "the command" });
        run.process.kill("SIGSTOP");
        await poll(
          () => client.acquire("jobs/stubborn", { ttlMs: 5_000 }).catch(() => undefined),
          { what: "the lock to pass", timeoutMs: 10_000 },
        );
        run.process.kill("SIGCONT");
        const status = await run.process.status;
        await run.done;
        assert.equal(status.code, 4, run.stderr.join("\n"));
        assert.ok(run.stdout.includes("ignoring TERM"), run.stdout.join("\n"));
      });

      await t.step(
        "the node it talks to is killed mid-run: it fails over, keeps the lock",
        async () => {
          const leader = await c.waitForLeader();
          // The leader first: reads and renewals both go to it until it dies.
          const order = [leader, ...c.ids.filter((id) => id !== leader)].map((id) =>
            c.clientUrl(id)
          );
          const run = spawnCtl(
            ["run-locked", "jobs/failover", "--ttl", "3s", "--", "sh", "-c", "echo go; sleep 5"],
            { endpoints: order },
          );
          await poll(() => run.stdout.includes("go") || undefined, { what: "the command" });
          await c.kill(leader);
          const killedAt = Date.now();
          await c.waitForLeader({ exclude: [leader] });
          // Past the ttl after the kill, the lock is still the run's.
          await poll(() => Date.now() - killedAt > 3_500 || undefined, { what: "3.5 s" });
          await assert.rejects(client.acquire("jobs/failover", { ttlMs: 1_000 }), LockHeldError);
          const status = await run.process.status;
          await run.done;
          assert.equal(status.code, 0, run.stderr.join("\n"));
          assert.equal(run.stderr.join(""), "");
          assert.equal((await client.lockState("jobs/failover")).holder, null);
          await c.restart(leader);
        },
      );
    } finally {
      await c.stop();
    }
  },
});
