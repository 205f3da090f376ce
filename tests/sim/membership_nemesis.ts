/**
 * The simulator's membership nemesis: while the other faults go on, it asks random live nodes
 * for membership changes as an operator would (`node.membership.change`, which runs each on
 * the leader wherever it was asked): add a learner (and start it the way `--join` does: from a
 * member's backup, with no peers of its own), promote a learner, remove a member, remove the
 * leader, hand leadership over, and replace a crashed voter (add a new node, promote it once it
 * has caught up, remove the dead one). Now and then a second change overlaps the first, and an
 * add names an id that was used before, so that the refusals are exercised too. Ids are never
 * reused: the cluster assigns them.
 *
 * Every decision comes from the simulation's seed; every wait is on virtual time.
 *
 * @module
 */

import { MembershipError, type MembershipRequest } from "../../src/node/membership.ts";
import { NodeStoppedError } from "../../src/node/errors.ts";
import type { RaftNode } from "../../src/node/raft_node.ts";
import type { ConfState, NodeId } from "../../src/raft/types.ts";
import type { Prng } from "../checker/prng.ts";

/** A change the nemesis makes (`replace` is three of the others in a row). */
export type MembershipOp = "add" | "promote" | "remove" | "removeLeader" | "transfer" | "replace";

/** What the simulation lends the membership nemesis. */
export interface MembershipHost {
  readonly prng: Prng;
  /** Resolves after `ms` of virtual time. */
  sleep(ms: number): Promise<void>;
  /** The nodes that run now and are members (not removed). */
  liveNodes(): RaftNode[];
  /** The ids of members that are down (crashed, not restarted yet). */
  downIds(): NodeId[];
  /** Every id a server was ever started with (removed ones included). */
  usedIds(): NodeId[];
  /** Starts new node `id` from a backup of one of the live members, as `--join` does. */
  join(id: NodeId): Promise<void>;
  /** Whether the fault phase is still on (no new changes after it). */
  faulting(): boolean;
  /** Something no operator should see happened: the run fails with it. */
  fail(e: Error): void;
}

/**
 * Changes made and refused in one run (the per-seed summary and the campaign totals).
 *
 * @example
 * ```ts
 * import type { MembershipTally } from "./membership_nemesis.ts";
 * const t: MembershipTally = { made: { add: 2 }, refused: { "not-caught-up": 1 }, joined: 2 };
 * ```
 */
export interface MembershipTally {
  /** Changes the cluster answered as made, by operation. */
  made: Record<string, number>;
  /** Changes refused (or of unknown outcome), by `MembershipError` code. */
  refused: Record<string, number>;
  /** New nodes started from a backup. */
  joined: number;
}

/** Chance per nemesis step that a change is asked for. */
const RATE = 0.012;
/** Refusals an operator retries (after a pause, through another node), as docs/api.md advises. */
const RETRIED = new Set(["no-leader", "change-in-progress", "outcome-unknown", "node-stopped"]);
/** How often one change is asked for before the operator gives up. */
const ATTEMPTS = 6;
/** A change that has not been answered after this long no longer holds the operator's slot. */
const OP_DEADLINE_MS = 10_000;
/** The most members (voters and learners) the nemesis grows the cluster to. */
const MAX_MEMBERS = 7;

/**
 * Picks membership changes from the seed and carries them out through the nodes.
 *
 * @example
 * ```ts ignore
 * const members = new MembershipNemesis(host);
 * // once per nemesis step, during the fault phase:
 * members.step();
 * console.log(members.tally.made);
 * ```
 */
export class MembershipNemesis {
  readonly tally: MembershipTally = { made: {}, refused: {}, joined: 0 };
  /** Changes in flight (an operator, and now and then a second one at the same time). */
  #busy = 0;
  #joinCounter = 0;

  constructor(readonly host: MembershipHost) {}

  /** One nemesis step: may start a change. */
  step(): void {
    const p = this.host.prng;
    if (!p.chance(RATE)) return;
    if (this.#busy > 0 && !p.chance(0.2)) return;
    const op = p.pick(
      [
        "add",
        "add",
        "promote",
        "promote",
        "remove",
        "removeLeader",
        "transfer",
        "replace",
      ] as const,
    );
    this.#busy++;
    const done = this.#run(op).catch((e) => this.host.fail(e as Error));
    void Promise.race([done, this.host.sleep(OP_DEADLINE_MS)]).then(() => this.#busy--);
  }

  /** The membership as a live node sees it: the leader's, else any live node's. */
  #conf(): ConfState | undefined {
    const live = this.host.liveNodes();
    const node = live.find((n) => n.isLeader()) ?? live[0];
    return node?.status().conf;
  }

  /**
   * A live node to ask: half the time the one that leads (as `GET /v1/members` or `X-Leader`
   * names it), else any, as a load balancer would pick.
   */
  #via(): RaftNode | undefined {
    const live = this.host.liveNodes();
    if (live.length === 0) return undefined;
    const leader = live.find((n) => n.isLeader());
    return leader && this.host.prng.chance(0.5) ? leader : this.host.prng.pick(live);
  }

  async #run(op: MembershipOp): Promise<void> {
    const p = this.host.prng;
    const conf = this.#conf();
    if (!conf) return;
    const members = conf.voters.length + conf.learners.length;
    switch (op) {
      case "add":
        if (members >= MAX_MEMBERS) {
          return await this.#remove(p.pick(conf.learners.length > 0 ? conf.learners : conf.voters));
        }
        await this.#add();
        return;
      case "promote":
        if (conf.learners.length === 0) return void (await this.#add());
        await this.#change("promote", { op: "promote", id: p.pick(conf.learners) });
        return;
      case "remove": {
        const down = this.host.downIds().filter((id) => conf.voters.includes(id));
        const id = down.length > 0 && p.chance(0.5)
          ? p.pick(down)
          : p.pick([...conf.voters, ...conf.learners]);
        await this.#remove(id);
        return;
      }
      case "removeLeader": {
        const leader = this.host.liveNodes().find((n) => n.isLeader());
        if (leader) await this.#change("removeLeader", { op: "remove", id: leader.id });
        return;
      }
      case "transfer": {
        const to = p.chance(0.5) ? p.pick(conf.voters) : undefined;
        await this.#change(
          "transfer",
          to === undefined ? { op: "transfer" } : { op: "transfer", to },
        );
        return;
      }
      case "replace":
        await this.#replace(conf);
        return;
    }
  }

  async #remove(id: NodeId): Promise<void> {
    await this.#change("remove", { op: "remove", id });
  }

  /** Adds a learner and starts it from a backup; returns its id, if it was added. */
  async #add(): Promise<NodeId | undefined> {
    const p = this.host.prng;
    const k = ++this.#joinCounter;
    const req: MembershipRequest = {
      op: "add",
      peerUrl: `sim://join-${k}`,
      clientUrl: `sim-client://join-${k}`,
    };
    // Now and then an operator names an id that was used before: it must be refused.
    if (p.chance(0.1)) req.id = p.pick(this.host.usedIds());
    let id: NodeId | undefined;
    const answer = await this.#change("add", req, (via) => {
      // A retry refused as "already-member": the first attempt was made after all; as `--join`
      // does, the member with this peer URL is the one to start.
      for (const [mid, m] of via.directory().members) if (m.peerUrl === req.peerUrl) id = mid;
      return id !== undefined && req.id === undefined;
    });
    if (answer && "member" in answer) id = answer.member.id;
    if (id === undefined) return undefined;
    await this.host.join(id);
    this.tally.joined++;
    return id;
  }

  /** A crashed voter is replaced: a new node joins, is promoted once caught up, the dead one goes. */
  async #replace(conf: ConfState): Promise<void> {
    const down = this.host.downIds().filter((id) => conf.voters.includes(id));
    if (down.length === 0) return void (await this.#add());
    const dead = this.host.prng.pick(down);
    const id = await this.#add();
    if (id === undefined) return;
    let promoted = false;
    for (let attempt = 0; attempt < 10 && !promoted && this.host.faulting(); attempt++) {
      await this.host.sleep(300);
      promoted = (await this.#change("promote", { op: "promote", id })) !== undefined;
    }
    if (!promoted) return;
    if ((await this.#change("remove", { op: "remove", id: dead })) !== undefined) {
      this.#count(this.tally.made, "replace");
    }
  }

  /**
   * Asks a live node for a change, again (through another) while the refusal is one to retry;
   * counts what came of each attempt; undefined when refused in the end. `madeBefore`, asked
   * after a retry was refused as "already-member", says whether an earlier attempt made it.
   */
  async #change(
    what: MembershipOp,
    req: MembershipRequest,
    madeBefore?: (via: RaftNode) => boolean,
  ): Promise<Awaited<ReturnType<RaftNode["membership"]["change"]>> | undefined> {
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      if (attempt > 0) {
        if (!this.host.faulting()) return undefined;
        await this.host.sleep(100 + this.host.prng.int(400));
      }
      // As an operator would (`deno task ctl members` first): asks once some node leads.
      for (let waited = 0; waited < 3000 && !this.#leaderUp(); waited += 50) {
        await this.host.sleep(50);
      }
      const via = this.#via();
      if (!via) return undefined;
      let code: string;
      try {
        const answer = await via.membership.change(req);
        this.#count(this.tally.made, what);
        return answer;
      } catch (e) {
        if (e instanceof MembershipError) code = e.code;
        else if (e instanceof NodeStoppedError) code = "node-stopped";
        else throw new Error(`membership ${req.op} failed unexpectedly: ${e}`);
      }
      this.#count(this.tally.refused, code);
      if (code === "already-member" && attempt > 0 && madeBefore?.(via)) {
        this.#count(this.tally.made, what);
        return undefined;
      }
      if (!RETRIED.has(code)) return undefined;
    }
    return undefined;
  }

  #leaderUp(): boolean {
    return this.host.liveNodes().some((n) => n.isLeader());
  }

  #count(into: Record<string, number>, key: string): void {
    into[key] = (into[key] ?? 0) + 1;
  }
}
