/**
 * `status` and `members`: the cluster as one table. Every member is asked for its own view
 * (term, commit and applied index) at once; the leader's view adds match indexes. Lag is how
 * far a member's applied index trails the leader's commit index.
 *
 * @module
 */

import { type ClusterView, EdgeraftClient } from "../../client/mod.ts";
import type { Command, CommandContext } from "./command.ts";
import { EXIT } from "./exit_codes.ts";
import { formatTable } from "./table.ts";

/** How long a member may take to answer before it is shown as unreachable. */
const MEMBER_TIMEOUT_MS = 2_000;

/**
 * One member's row of `status`.
 *
 * @example
 * ```ts
 * import type { MemberStatus } from "./status_command.ts";
 * const m: MemberStatus = {
 *   id: 1, url: "http://127.0.0.1:7001", role: "leader", reachable: true, term: 3,
 *   commitIndex: 40, appliedIndex: 40, matchIndex: 40, lag: 0,
 * };
 * ```
 */
export interface MemberStatus {
  id: number;
  url: string | null;
  role: string;
  reachable: boolean;
  term: number | null;
  commitIndex: number | null;
  appliedIndex: number | null;
  matchIndex: number | null;
  lag: number | null;
}

/**
 * The cluster's status: one view from any endpoint, then every member's own.
 *
 * @example
 * ```ts ignore
 * const { leaderId, members } = await clusterStatus(context);
 * ```
 */
export async function clusterStatus(
  c: CommandContext,
): Promise<{ clusterId: string; leaderId: number | null; term: number; members: MemberStatus[] }> {
  const first = await c.client().cluster();
  const views = new Map<number, ClusterView>();
  await Promise.all(first.members.map(async (member) => {
    if (member.url === null) return;
    // One endpoint, no retries: this asks that node, and a dead node is a row, not a wait.
    const one = new EdgeraftClient({ endpoints: [member.url], token: c.token(), retries: 0 });
    const view = await one.cluster({ timeoutMs: MEMBER_TIMEOUT_MS }).catch(() => undefined);
    if (view) views.set(member.id, view);
  }));
  views.set(first.nodeId, views.get(first.nodeId) ?? first);
  const leaderId = [...views.values()].find((v) => v.leaderId !== null)?.leaderId ?? null;
  const leaderView = leaderId === null ? undefined : views.get(leaderId);
  const members = first.members.map((member): MemberStatus => {
    const own = views.get(member.id);
    const fromLeader = leaderView?.members.find((m) => m.id === member.id);
    const leaderCommit = leaderView?.commitIndex;
    return {
      id: member.id,
      url: member.url,
      role: member.role === "learner"
        ? "learner"
        : member.id === leaderId
        ? "leader"
        : leaderId === null
        ? "unknown"
        : "follower",
      reachable: own !== undefined,
      term: own?.term ?? null,
      commitIndex: own?.commitIndex ?? null,
      appliedIndex: own?.appliedIndex ?? null,
      matchIndex: fromLeader?.matchIndex ?? null,
      lag: own && leaderCommit !== undefined ? Math.max(0, leaderCommit - own.appliedIndex) : null,
    };
  });
  const term = Math.max(...[...views.values()].map((v) => v.term));
  return { clusterId: first.clusterId, leaderId, term, members };
}

/**
 * `status`: the members with their roles, terms, indexes and lag.
 *
 * @example
 * ```ts ignore
 * await statusCommand.run(context);
 * ```
 */
export const statusCommand: Command = {
  words: ["status"],
  usage: "status",
  summary: "one table of the cluster: members, leader, term, indexes, lag",
  details: "Asks every member for its own view (2 s each). LAG: how far a member's applied\n" +
    "index trails the leader's commit index. Exits with 3 if no endpoint answers.",
  flags: {},
  args: [0, 0],
  async run(c) {
    const status = await clusterStatus(c);
    if (c.json) {
      c.out(JSON.stringify(status));
      return EXIT.ok;
    }
    const dash = (n: number | null) => n === null ? "-" : String(n);
    const rows = status.members.map((m) => [
      String(m.id),
      m.url ?? "-",
      m.reachable ? m.role : "unreachable",
      dash(m.term),
      dash(m.commitIndex),
      dash(m.appliedIndex),
      dash(m.matchIndex),
      dash(m.lag),
    ]);
    c.out(
      `cluster ${status.clusterId}  leader ${status.leaderId ?? "none"}  term ${status.term}`,
    );
    c.out(formatTable(["ID", "URL", "ROLE", "TERM", "COMMIT", "APPLIED", "MATCH", "LAG"], rows));
    return EXIT.ok;
  },
};

/**
 * `members`: the members, their roles, and the leader's view of their progress.
 *
 * @example
 * ```ts ignore
 * await membersCommand.run(context);
 * ```
 */
export const membersCommand: Command = {
  words: ["members"],
  usage: "members",
  summary: "list the members (id, client URL, peer URL, voter or learner, progress)",
  details: "From the leader when one answers. MATCH: the last log index the leader knows the\n" +
    "member has; CONTACT: ms since the leader last heard from it (- for the leader itself,\n" +
    "or with no leader). Needs the admin scope when the cluster has tokens.\n" +
    "--json prints the list as GET /v1/members answers it.",
  flags: {},
  args: [0, 0],
  async run(c) {
    const members = await c.client().members();
    if (c.json) {
      c.out(JSON.stringify(members));
      return EXIT.ok;
    }
    const dash = (v: string | number | null) => v === null || v === "" ? "-" : String(v);
    const rows = members.map((m) => [
      String(m.id),
      dash(m.clientUrl),
      dash(m.peerUrl),
      m.role,
      dash(m.matchIndex),
      dash(m.lastContactMs),
    ]);
    c.out(formatTable(["ID", "URL", "PEER URL", "ROLE", "MATCH", "CONTACT"], rows));
    return EXIT.ok;
  },
};
