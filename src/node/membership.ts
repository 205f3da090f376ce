/**
 * Membership changes as an operator asks for them: add a learner, promote it, remove a member,
 * hand leadership over. The core changes one member at a time, each change committed and applied
 * before the next (thesis 4.1); this module adds the checks that keep a cluster available while
 * it changes (a learner is promoted only once caught up; no removal may leave the remaining
 * voters without a live majority; a leader hands over before it is removed) and runs every change
 * on the leader, wherever it was asked (docs/architecture.md#membership).
 *
 * @module
 */

import { decode, encode } from "@msgpack/msgpack";
import type { ConfChange, NodeId } from "../raft/types.ts";
import type { Status } from "../raft/raw_node.ts";
import {
  directoryToTuple,
  type DirectoryTuple,
  type MemberDirectory,
} from "../state/member_directory.ts";
import { CallError } from "../transport/transport.ts";

/**
 * A learner may be promoted once its log is within this many entries of the leader's: a voter
 * that is far behind would hold up commits until it caught up.
 */
export const PROMOTE_MAX_LAG = 1000;

/**
 * A member as `GET /v1/members` shows it. `matchIndex` and `lastContactMs` are the leader's
 * knowledge (null when no leader answered, or for the leader itself: it has everything).
 *
 * @example
 * ```ts
 * import type { MemberInfo } from "./membership.ts";
 * const m: MemberInfo = {
 *   id: 4, peerUrl: "http://127.0.0.1:7104", clientUrl: "http://127.0.0.1:7004",
 *   role: "learner", matchIndex: 120, lastContactMs: 8,
 * };
 * ```
 */
export interface MemberInfo {
  id: NodeId;
  peerUrl: string;
  clientUrl: string;
  role: "voter" | "learner";
  matchIndex: number | null;
  lastContactMs: number | null;
}

/**
 * A change an operator asks for.
 *
 * @example
 * ```ts
 * import type { MembershipRequest } from "./membership.ts";
 * const add: MembershipRequest = {
 *   op: "add", peerUrl: "http://127.0.0.1:7104", clientUrl: "http://127.0.0.1:7004",
 * };
 * ```
 */
export type MembershipRequest =
  | { op: "add"; id?: NodeId; peerUrl: string; clientUrl: string }
  | { op: "promote"; id: NodeId }
  | { op: "remove"; id: NodeId }
  | { op: "transfer"; to?: NodeId };

/**
 * What a change gave: the member added or promoted, the id removed, or the new leader.
 *
 * @example
 * ```ts
 * import type { MembershipAnswer } from "./membership.ts";
 * const a: MembershipAnswer = { leader: 2 };
 * ```
 */
export type MembershipAnswer = { member: MemberInfo } | { removed: NodeId } | { leader: NodeId };

/** Why a change was refused; `code` is the problem type's last segment (docs/api.md). */
export type MembershipErrorCode =
  | "bad-request"
  | "unknown-member"
  | "already-member"
  | "already-voter"
  | "not-caught-up"
  | "change-in-progress"
  | "last-voter"
  | "no-quorum"
  | "transfer-failed"
  | "no-leader"
  | "outcome-unknown";

const STATUS: Record<MembershipErrorCode, number> = {
  "bad-request": 400,
  "unknown-member": 404,
  "already-member": 409,
  "already-voter": 409,
  "not-caught-up": 409,
  "change-in-progress": 409,
  "last-voter": 409,
  "no-quorum": 409,
  "transfer-failed": 503,
  "no-leader": 503,
  "outcome-unknown": 504,
};

/**
 * A change that was refused (or whose outcome is unknown), with the HTTP status to answer.
 *
 * @example
 * ```ts
 * import { MembershipError } from "./membership.ts";
 * const e = new MembershipError("last-voter", "node 1 is the only voter");
 * console.log(e.status); // 409
 * ```
 */
export class MembershipError extends Error {
  override name = "MembershipError";
  readonly status: number;
  constructor(readonly code: MembershipErrorCode, detail: string) {
    super(detail);
    this.status = STATUS[code];
  }
}

/** What the node lends the membership logic; see `RaftNode`. */
export interface MembershipHost {
  readonly id: NodeId;
  isLeader(): boolean;
  leaderId(): NodeId;
  status(): Status;
  /** The effective directory (replicated, else from the flags). */
  directory(): MemberDirectory;
  /**
   * Proposes a membership change on this leader; resolves once it is applied here, or rejects
   * (`MembershipError`) when it was refused or its entry lost to another leader's.
   */
  proposeConfChange(cc: ConfChange): Promise<void>;
  transferLeader(to: NodeId): void;
  /** Resolves true once `cond()` holds (checked every tick), false after `timeoutMs`. */
  waitUntil(cond: () => boolean, timeoutMs: number): Promise<boolean>;
  electionTimeoutMs(): number;
  /** Milliseconds since a message from `peer` arrived (undefined: never). */
  sinceHeard(peer: NodeId): number | undefined;
  /** Calls the leader over the peer transport. */
  callLeader(method: string, body: Uint8Array): Promise<Uint8Array>;
}

const LIST = "members.list";
const CHANGE = "members.change";

/**
 * Membership as the API sees it: the member list and the changes, run on the leader.
 *
 * @example
 * ```ts ignore
 * const members = await node.membership.list();
 * await node.membership.change({ op: "promote", id: 4 });
 * ```
 */
export class Membership {
  #busy = false;

  constructor(readonly host: MembershipHost) {}

  /** Every member with its role; from the leader when one answers (it knows the progress). */
  async list(): Promise<MemberInfo[]> {
    const h = this.host;
    if (h.isLeader() || h.leaderId() === 0) return this.#localList();
    try {
      return decode(await h.callLeader(LIST, new Uint8Array())) as MemberInfo[];
    } catch {
      return this.#localList();
    }
  }

  /** Runs a change on the leader (forwarding it there); throws `MembershipError` when refused. */
  async change(req: MembershipRequest): Promise<MembershipAnswer> {
    checkRequest(req);
    const h = this.host;
    if (h.isLeader()) return await this.#changeHere(req);
    if (h.leaderId() === 0) throw new MembershipError("no-leader", "no leader is known");
    try {
      return await this.#forward(req);
    } catch (e) {
      // Removing the leader: this node may apply the removal, and drop its link to the old
      // leader, before that leader's answer arrives. The removal is then made: say so.
      if (!(e instanceof MembershipError) || e.code !== "outcome-unknown" || req.op !== "remove") {
        throw e;
      }
      const gone = await h.waitUntil(() => !this.#isMember(req.id), h.electionTimeoutMs() * 4);
      if (!gone) throw e;
      return { removed: req.id };
    }
  }

  /** Answers a peer's `members.*` call; undefined when the method is not ours. */
  async answerCall(method: string, body: Uint8Array): Promise<Uint8Array | undefined> {
    if (method === LIST) return encode(this.#localList());
    if (method !== CHANGE) return undefined;
    if (!this.host.isLeader()) throw new CallError(503, "no-leader: this node is not the leader");
    try {
      return encode(await this.#changeHere(decode(body) as MembershipRequest));
    } catch (e) {
      if (e instanceof MembershipError) throw new CallError(e.status, `${e.code}: ${e.message}`);
      throw e;
    }
  }

  async #forward(req: MembershipRequest): Promise<MembershipAnswer> {
    try {
      return decode(await this.host.callLeader(CHANGE, encode(req))) as MembershipAnswer;
    } catch (e) {
      if (!(e instanceof CallError)) {
        throw new MembershipError(
          "outcome-unknown",
          `the leader did not answer (${(e as Error).message}); the change may have been made`,
        );
      }
      const m = /^([a-z-]+): (.*)$/s.exec(e.message);
      const code = m && m[1] in STATUS ? m[1] as MembershipErrorCode : undefined;
      if (code) throw new MembershipError(code, m![2]);
      throw new MembershipError(e.status === 503 ? "no-leader" : "outcome-unknown", e.message);
    }
  }

  #localList(): MemberInfo[] {
    const h = this.host;
    const s = h.status();
    const dir = h.directory();
    const leading = s.role === "leader";
    const info = (id: NodeId, role: MemberInfo["role"]): MemberInfo => {
      const addr = dir.members.get(id);
      const pr = leading ? s.progress.get(id) : undefined;
      const heard = leading && id !== h.id ? h.sinceHeard(id) : undefined;
      return {
        id,
        peerUrl: addr?.peerUrl ?? "",
        clientUrl: addr?.clientUrl ?? "",
        role,
        matchIndex: pr && id !== h.id ? pr.match : null,
        lastContactMs: heard === undefined ? null : Math.round(heard),
      };
    };
    return [
      ...s.conf.voters.map((id) => info(id, "voter")),
      ...s.conf.learners.map((id) => info(id, "learner")),
    ].sort((a, b) => a.id - b.id);
  }

  async #changeHere(req: MembershipRequest): Promise<MembershipAnswer> {
    if (req.op === "transfer") return { leader: await this.#transfer(req.to) };
    if (this.#busy) {
      throw new MembershipError("change-in-progress", "another membership change is in progress");
    }
    this.#busy = true;
    try {
      switch (req.op) {
        case "add":
          return { member: await this.#add(req) };
        case "promote":
          return { member: await this.#promote(req.id) };
        case "remove":
          return await this.#remove(req.id);
      }
    } finally {
      this.#busy = false;
    }
  }

  async #add(req: { id?: NodeId; peerUrl: string; clientUrl: string }): Promise<MemberInfo> {
    const dir = this.host.directory();
    for (const [id, m] of dir.members) {
      if (m.peerUrl === req.peerUrl || m.clientUrl === req.clientUrl) {
        throw new MembershipError(
          "already-member",
          `node ${id} already uses ${m.peerUrl === req.peerUrl ? req.peerUrl : req.clientUrl}`,
        );
      }
    }
    const id = req.id ?? dir.nextId;
    if (dir.members.has(id) || this.#isMember(id)) {
      throw new MembershipError("already-member", `node ${id} is a member already`);
    }
    if (id < dir.nextId) {
      throw new MembershipError(
        "already-member",
        `id ${id} was used before (ids are never reused; the next free one is ${dir.nextId})`,
      );
    }
    const members = new Map(dir.members);
    members.set(id, { peerUrl: req.peerUrl, clientUrl: req.clientUrl });
    const next: MemberDirectory = { nextId: Math.max(dir.nextId, id + 1), members };
    await this.host.proposeConfChange(confChange("addLearner", id, next));
    return this.#member(id);
  }

  async #promote(id: NodeId): Promise<MemberInfo> {
    const s = this.host.status();
    if (s.conf.voters.includes(id)) {
      throw new MembershipError("already-voter", `node ${id} is a voter already`);
    }
    if (!s.conf.learners.includes(id)) {
      throw new MembershipError("unknown-member", `node ${id} is no member`);
    }
    const match = s.progress.get(id)?.match ?? 0;
    const behind = s.lastIndex - match;
    const heard = this.host.sinceHeard(id);
    if (behind > PROMOTE_MAX_LAG || heard === undefined || heard > this.host.electionTimeoutMs()) {
      throw new MembershipError(
        "not-caught-up",
        `learner ${id} is ${behind} entries behind the leader (at most ${PROMOTE_MAX_LAG} allowed)` +
          (heard === undefined || heard > this.host.electionTimeoutMs()
            ? " and has not answered within an election timeout"
            : ""),
      );
    }
    await this.host.proposeConfChange(confChange("addVoter", id, this.host.directory()));
    return this.#member(id);
  }

  async #remove(id: NodeId): Promise<MembershipAnswer> {
    const h = this.host;
    const s = h.status();
    const isVoter = s.conf.voters.includes(id);
    if (!isVoter && !s.conf.learners.includes(id)) {
      throw new MembershipError("unknown-member", `node ${id} is no member`);
    }
    if (isVoter) {
      const rest = s.conf.voters.filter((v) => v !== id);
      if (rest.length === 0) {
        throw new MembershipError("last-voter", `node ${id} is the last voter`);
      }
      const live = () =>
        rest.filter((v) => v === h.id || (h.sinceHeard(v) ?? Infinity) <= this.#liveMs());
      const quorum = Math.floor(rest.length / 2) + 1;
      // A leader just elected (or handed leadership) may not have heard from every follower
      // yet: give them an election timeout to answer before calling them gone.
      await h.waitUntil(() => live().length >= quorum, h.electionTimeoutMs());
      if (live().length < quorum) {
        throw new MembershipError(
          "no-quorum",
          `removing node ${id} would leave ${rest.length} voters of which ${live().length} ` +
            `answer (${quorum} needed to commit): bring a voter back or add one first`,
        );
      }
      if (id === h.id) return await this.#removeSelf(rest, live());
    }
    const members = new Map(h.directory().members);
    members.delete(id);
    await h.proposeConfChange(
      confChange("removeNode", id, { nextId: h.directory().nextId, members }),
    );
    return { removed: id };
  }

  /** A leader asked to remove itself hands over first, then has the new leader remove it. */
  async #removeSelf(rest: NodeId[], live: NodeId[]): Promise<MembershipAnswer> {
    const to = this.#bestTarget(rest.filter((v) => live.includes(v)));
    if (to === undefined) {
      throw new MembershipError("no-quorum", "no live voter can take over the leadership");
    }
    this.#busy = false; // the new leader runs the removal; this node only hands over
    await this.#transfer(to);
    return await this.#forward({ op: "remove", id: this.host.id });
  }

  async #transfer(to: NodeId | undefined): Promise<NodeId> {
    const h = this.host;
    const s = h.status();
    if (to === h.id) return h.id;
    if (to !== undefined && !s.conf.voters.includes(to)) {
      throw new MembershipError("unknown-member", `node ${to} is no voter`);
    }
    const target = to ?? this.#bestTarget(s.conf.voters.filter((v) => v !== h.id));
    if (target === undefined) {
      throw new MembershipError("last-voter", "there is no other voter to hand leadership to");
    }
    h.transferLeader(target);
    // The core abandons a transfer that did not finish within an election timeout.
    const handedOver = await h.waitUntil(
      () => h.leaderId() !== 0 && h.leaderId() !== h.id,
      2 * h.electionTimeoutMs() + 1000,
    );
    if (!handedOver) {
      throw new MembershipError(
        "transfer-failed",
        `node ${target} did not take over within ${2 * h.electionTimeoutMs() + 1000} ms`,
      );
    }
    return h.leaderId();
  }

  /** The voter with the longest log among those that answer (the quickest to take over). */
  #bestTarget(candidates: NodeId[]): NodeId | undefined {
    const s = this.host.status();
    let best: NodeId | undefined;
    let bestMatch = -1;
    for (const id of candidates) {
      const heard = this.host.sinceHeard(id);
      if (heard === undefined || heard > this.#liveMs()) continue;
      const match = s.progress.get(id)?.match ?? 0;
      if (match > bestMatch) [best, bestMatch] = [id, match];
    }
    return best;
  }

  /** A member heard from within this long counts as live. */
  #liveMs(): number {
    return this.host.electionTimeoutMs();
  }

  #isMember(id: NodeId): boolean {
    const { voters, learners } = this.host.status().conf;
    return voters.includes(id) || learners.includes(id);
  }

  #member(id: NodeId): MemberInfo {
    const m = this.#localList().find((x) => x.id === id);
    if (!m) throw new MembershipError("outcome-unknown", `node ${id} is not in the membership`);
    return m;
  }
}

/**
 * A conf change carrying the directory as it is after the change.
 *
 * @example
 * ```ts
 * import { confChange } from "./membership.ts";
 * const cc = confChange("removeNode", 3, { nextId: 4, members: new Map() });
 * console.log(cc.context); // "[4,[]]"
 * ```
 */
export function confChange(
  type: ConfChange["type"],
  nodeId: NodeId,
  directory: MemberDirectory,
): ConfChange {
  return { type, nodeId, context: JSON.stringify(directoryToTuple(directory)) };
}

/**
 * The directory a conf change carries, or undefined when it carries none (or garbage).
 *
 * @example
 * ```ts
 * import { directoryOf } from "./membership.ts";
 * console.log(directoryOf({ type: "addVoter", nodeId: 2, context: "[3,[]]" })?.[0]); // 3
 * ```
 */
export function directoryOf(cc: ConfChange): DirectoryTuple | undefined {
  if (cc.context === undefined) return undefined;
  try {
    return JSON.parse(cc.context) as DirectoryTuple;
  } catch {
    return undefined;
  }
}

function checkRequest(req: MembershipRequest): void {
  const bad = (detail: string) => new MembershipError("bad-request", detail);
  const isId = (v: unknown) => Number.isSafeInteger(v) && (v as number) > 0;
  switch (req?.op) {
    case "add":
      if (req.id !== undefined && !isId(req.id)) throw bad("id must be an integer > 0");
      for (const [name, url] of [["peerUrl", req.peerUrl], ["clientUrl", req.clientUrl]]) {
        // Any scheme: the API admits http(s) only, the simulator's links are sim://.
        if (typeof url !== "string" || !/^[a-z][a-z0-9+.-]*:\/\/\S+$/.test(url)) {
          throw bad(`${name} must be a URL such as http://host:port, got ${String(url)}`);
        }
      }
      return;
    case "promote":
    case "remove":
      if (!isId(req.id)) throw bad("id must be an integer > 0");
      return;
    case "transfer":
      if (req.to !== undefined && !isId(req.to)) throw bad("to must be an integer > 0");
      return;
    default:
      throw bad("unknown membership operation");
  }
}
