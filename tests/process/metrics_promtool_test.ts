/**
 * `/metrics` of real node processes, checked by a real Prometheus parser: `promtool check
 * metrics` (Debian's `prometheus` package; `.ci/run` installs it) parses the text and lints the
 * names and units. Skipped, saying why, where promtool is absent.
 */

import assert from "node:assert/strict";
import { startCluster } from "./cluster_fixture.ts";
import { poll } from "./poll.ts";

/** promtool's path, or undefined when it is not installed. */
function promtool(): string | undefined {
  for (const dir of (Deno.env.get("PATH") ?? "/usr/bin").split(":")) {
    try {
      if (Deno.statSync(`${dir}/promtool`).isFile) return `${dir}/promtool`;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Runs `promtool check metrics` on `text`; resolves with its exit code and output. */
async function check(tool: string, text: string): Promise<{ code: number; output: string }> {
  const child = new Deno.Command(tool, {
    args: ["check", "metrics"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const { code, stdout, stderr } = await child.output();
  const output = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
  return { code, output };
}

async function text(url: string, init?: RequestInit): Promise<string> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(5000) });
  const body = await res.text();
  assert.ok(res.ok, `${url}: ${res.status} ${body}`);
  return body;
}

const tool = promtool();

Deno.test({
  name: "process: /metrics of a leader and a follower pass `promtool check metrics`",
  ignore: tool === undefined,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const c = await startCluster({ nodes: 3 });
    try {
      const leader = await c.waitForLeader({ timeoutMs: 20_000 });
      const follower = c.ids.find((id) => id !== leader)!;
      const json = { "content-type": "application/json" };
      await text(`${c.clientUrl(follower)}/v1/config/app/flags`, {
        method: "PUT",
        headers: json,
        body: JSON.stringify({ on: true }),
      });
      await text(`${c.clientUrl(leader)}/v1/locks/nightly/acquire`, {
        method: "POST",
        headers: json,
        body: JSON.stringify({ ttlMs: 30_000, owner: "eu-west" }),
      });
      // The leader's lag per peer needs both followers' acks of the writes above.
      const leaderText = await poll(async () => {
        const t = await text(`${c.clientUrl(leader)}/metrics`);
        // Round trips are timed from heartbeats, which may not have been answered yet.
        const ready = /^edgeraft_peer_lag_entries\{peer="\d+"\} 0$/m.test(t) &&
          /^edgeraft_peer_rtt_seconds\{/m.test(t);
        return ready ? t : undefined;
      }, {
        what: "the leader's metrics to show a caught-up peer and a timed round trip",
        timeoutMs: 10_000,
      });
      const followerText = await text(`${c.clientUrl(follower)}/metrics`);

      for (const [who, t] of [["leader", leaderText], ["follower", followerText]]) {
        const { code, output } = await check(tool!, t);
        assert.equal(code, 0, `promtool on the ${who}'s metrics:\n${output}\n---\n${t}`);
      }
      for (
        const name of [
          "edgeraft_build_info",
          "edgeraft_apply_lag_entries",
          "edgeraft_campaigns_total",
          "edgeraft_leader_changes_total",
          "edgeraft_proposals_failed_total",
          "edgeraft_disk_write_duration_seconds_bucket",
          "edgeraft_snapshots_taken_total",
          "edgeraft_snapshot_size_bytes",
          "edgeraft_watch_streams",
          "edgeraft_lock_waiters",
          "edgeraft_locks_held",
          "edgeraft_peer_reachable",
          "edgeraft_peer_lag_entries",
          "edgeraft_peer_rtt_seconds",
          "edgeraft_peer_rtt_p99_seconds",
          "process_resident_memory_bytes",
          "edgeraft_event_loop_delay_p99_seconds",
          "edgeraft_event_loop_delay_max_seconds",
          ...(Deno.build.os === "linux"
            ? [
              "edgeraft_event_loop_own_delay_p99_seconds",
              "edgeraft_event_loop_own_delay_max_seconds",
            ]
            : []),
          "edgeraft_proposal_duration_seconds_bucket",
        ]
      ) {
        assert.match(leaderText, new RegExp(`^${name}[{ ]`, "m"), name);
      }
      assert.match(leaderText, /^edgeraft_locks_held 1$/m);
      assert.match(leaderText, /^edgeraft_is_leader 1$/m);
      assert.match(followerText, /^edgeraft_is_leader 0$/m);
      // A follower does not know the others' match index: it shows only reachability.
      assert.doesNotMatch(followerText, /^edgeraft_peer_lag_entries/m);
      const disk = leaderText.match(/^edgeraft_disk_write_duration_seconds_count (\d+)$/m);
      assert.ok(disk && Number(disk[1]) > 0, "the leader counted its disk writes");
    } finally {
      await c.stop();
    }
  },
});

if (tool === undefined) {
  console.warn(
    "metrics_promtool_test: skipped, promtool is not installed " +
      "(apt-get install prometheus; .ci/run does)",
  );
}
