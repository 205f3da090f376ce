/**
 * The simulator's command line: real `RaftNode`s under faults from one seed
 * (`simulation.ts`).
 *
 *   deno task sim --seed 42                 replay one seed, verbosely
 *   deno task sim --seeds 20000             a campaign over seeds 1..20000
 *   deno task sim --seeds 1000 --from 5000  seeds 5000..5999
 *   deno task sim --seeds 200 --bug voteTwice --survey   how often, and as what, a bug is caught
 *   deno task sim --seeds 200 --wan         every seed over a WAN (round trips above the
 *                                           election timeout; otherwise about one seed in seven)
 *   options: --nodes 3|5  --steps N  --bug <a name in bugs.ts>  --wan
 *            --backoff-limit N   the cores' electionBackoffLimit (0: no election back-off)
 *            --no-membership     no membership changes (by default every seed adds learners,
 *                                promotes, removes and replaces nodes among the faults)
 *            --no-connection-loss  a crash is only silence to the peers (by default they hear
 *                                their connection to it close, as with real sockets; the seeds
 *                                found before that existed replay with this flag)
 *            --keep-going        a campaign goes on after a failed seed and lists them all
 *            --trace             with --seed: every node's log lines, stamped with virtual ms
 *
 * Exits 1 on the first violation, printing the command that replays it.
 *
 * @module
 */

import { BUGS, isBugName } from "./bugs.ts";
import type { MembershipTally } from "./membership_nemesis.ts";
import { type SimReport, Simulation } from "./simulation.ts";

function flag(name: string): string | undefined {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Deno.args[i + 1] : undefined;
}

/** The cluster size seed `seed` runs with, so that a campaign varies it. */
export function nodesForSeed(seed: number, fixed?: number): number {
  return fixed ?? (seed % 2 === 0 ? 5 : 3);
}

const steps = Number(flag("steps") ?? 4000);
const fixedNodes = flag("nodes") ? Number(flag("nodes")) : undefined;
const bug = flag("bug");
const wan = Deno.args.includes("--wan") ? true : undefined;
const membership = !Deno.args.includes("--no-membership");
const connectionLoss = !Deno.args.includes("--no-connection-loss");
const keepGoing = Deno.args.includes("--keep-going");
const trace = Deno.args.includes("--trace");
const backoffLimit = flag("backoff-limit") === undefined
  ? undefined
  : Number(flag("backoff-limit"));
if (bug !== undefined && !isBugName(bug)) {
  console.error(`unknown bug "${bug}"; one of: ${Object.keys(BUGS).join(", ")}`);
  Deno.exit(2);
}

function replayCommand(seed: number): string {
  const extra = [
    fixedNodes ? ` --nodes ${fixedNodes}` : "",
    steps !== 4000 ? ` --steps ${steps}` : "",
    bug ? ` --bug ${bug}` : "",
    wan ? " --wan" : "",
    backoffLimit !== undefined ? ` --backoff-limit ${backoffLimit}` : "",
    membership ? "" : " --no-membership",
    connectionLoss ? "" : " --no-connection-loss",
  ].join("");
  return `deno task sim --seed ${seed}${extra}`;
}

async function runSeed(seed: number): Promise<SimReport> {
  const nodes = nodesForSeed(seed, fixedNodes);
  const raft = backoffLimit === undefined ? undefined : { electionBackoffLimit: backoffLimit };
  return await new Simulation({
    seed,
    steps,
    nodes,
    bug: bug as keyof typeof BUGS,
    wan,
    raft,
    membership,
    connectionLoss,
    logger: trace
      ? (id, now) => ({
        log: (level, event, fields) =>
          console.log(
            `${now.toFixed(1)} n${id} ${level} ${event}${
              fields ? ` ${JSON.stringify(fields)}` : ""
            }`,
          ),
      })
      : undefined,
  }).run();
}

/** Adds one run's membership tally into the campaign's. */
function addTally(into: MembershipTally, t: MembershipTally | undefined): void {
  if (!t) return;
  for (const [k, n] of Object.entries(t.made)) into.made[k] = (into.made[k] ?? 0) + n;
  for (const [k, n] of Object.entries(t.refused)) into.refused[k] = (into.refused[k] ?? 0) + n;
  into.joined += t.joined;
}

function sum(r: Record<string, number>): number {
  return Object.values(r).reduce((a, b) => a + b, 0);
}

function describe(r: Record<string, number>): string {
  return Object.entries(r).sort(([a], [b]) => a.localeCompare(b)).map(([k, n]) => `${k} ${n}`)
    .join(", ") || "none";
}

if (Deno.args.includes("--survey")) {
  const count = Number(flag("seeds") ?? 100);
  const found = new Map<string, number>();
  let first: number | undefined;
  for (let seed = 1; seed <= count; seed++) {
    const r = await runSeed(seed);
    const what = r.property ?? (r.live ? "ok" : "no progress");
    if (r.property && first === undefined) first = seed;
    found.set(what, (found.get(what) ?? 0) + 1);
  }
  console.log(Object.fromEntries(found));
  if (first !== undefined) console.log(`first caught: ${replayCommand(first)}`);
} else if (flag("seed")) {
  const seed = Number(flag("seed"));
  const r = await runSeed(seed);
  console.log(JSON.stringify({ ...r, linearizability: r.linearizability?.verdict }, null, 2));
  if (r.membership) {
    console.log(
      `membership changes in this seed: ${sum(r.membership.made)} made (${
        describe(r.membership.made)
      }), ${sum(r.membership.refused)} refused (${describe(r.membership.refused)}), ` +
        `${r.membership.joined} nodes joined from a backup`,
    );
  }
  if (r.violation || !r.live) {
    console.log(
      `FAILED: ${r.violation ?? `no progress after healing (${r.stuck})`}\nreplay: ${
        replayCommand(seed)
      }`,
    );
    Deno.exit(1);
  }
} else {
  const count = Number(flag("seeds") ?? 100);
  const from = Number(flag("from") ?? 1);
  const t0 = performance.now();
  let done = 0;
  let totalSteps = 0;
  let ops = 0;
  let lockOps = 0;
  let lockTrusted = 0;
  let wanSeeds = 0;
  let wanWorstRecoveryMs = 0;
  let commitQuorumChecks = 0;
  let snapshotsReadBack = 0;
  let seedsWithChanges = 0;
  const tally: MembershipTally = { made: {}, refused: {}, joined: 0 };
  const failed: string[] = [];
  /** The campaign's totals so far (all of it at the end; what ran, when stopped early). */
  const summary = () => {
    const secs = (performance.now() - t0) / 1000;
    const violations = failed.filter((f) => !f.includes("no progress after healing")).length;
    console.log(
      `${done} seeds (${from}..${from + done - 1}${
        done < count ? `, stopped early of ${count}` : ""
      }) of RaftNode: ${violations} violations, ${
        failed.length - violations
      } without progress after healing, ${totalSteps} steps, ` +
        `${ops} client operations checked, ${lockOps} lock operations ` +
        `(${lockTrusted} trusted lease intervals checked), ${secs.toFixed(1)} s, ${
          Math.round(totalSteps / secs)
        } steps/s`,
    );
    console.log(
      `${wanSeeds} of them over a WAN (round trips above the election timeout): the slowest ` +
        `committed a write ${(wanWorstRecoveryMs / 1000).toFixed(2)} s after the faults stopped`,
    );
    for (const f of failed) console.log(`  failed ${f}`);
    console.log(
      `${commitQuorumChecks} commits checked against the disks of the leader's voters; ` +
        `${snapshotsReadBack} snapshots read back from a leader's disk to send`,
    );
    if (membership) {
      console.log(
        `membership: ${seedsWithChanges} of ${done} seeds made changes; ${sum(tally.made)} made (${
          describe(tally.made)
        }); ${sum(tally.refused)} refused (${
          describe(tally.refused)
        }); ${tally.joined} nodes joined from a backup`,
      );
    }
  };
  // A long campaign stopped with SIGTERM or Ctrl-C still says what it checked.
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    Deno.addSignalListener(signal, () => {
      summary();
      Deno.exit(130);
    });
  }
  for (let seed = from; seed < from + count; seed++) {
    const r = await runSeed(seed);
    done++;
    if (r.latencyMs > 0) {
      wanSeeds++;
      wanWorstRecoveryMs = Math.max(wanWorstRecoveryMs, r.recoveryMs);
    }
    totalSteps += r.steps;
    ops += r.ops;
    lockOps += r.lockOps;
    lockTrusted += r.lockTrusted;
    commitQuorumChecks += r.commitQuorumChecks;
    snapshotsReadBack += r.snapshotsReadBack;
    addTally(tally, r.membership);
    if (r.membership && sum(r.membership.made) > 0) seedsWithChanges++;
    if (r.violation || !r.live) {
      const what = r.violation
        ? `${r.property}: ${r.violation}`
        : `no progress after healing (${r.stuck})`;
      console.log(`FAILED seed ${seed}: ${what}`);
      console.log(`replay: ${replayCommand(seed)}`);
      if (!keepGoing) Deno.exit(1);
      failed.push(`seed ${seed}: ${what}`);
    }
    if (done % 100 === 0) {
      const secs = (performance.now() - t0) / 1000;
      console.log(
        `${done} seeds, ${totalSteps} steps, ${ops} operations, ` +
          `${Math.round(totalSteps / secs)} steps/s` +
          (membership
            ? `, ${seedsWithChanges} seeds made ${sum(tally.made)} membership changes`
            : "") +
          `, ${failed.length} failed`,
      );
    }
  }
  summary();
  if (failed.length > 0) Deno.exit(1);
}
