/**
 * The nemesis: while clients run, it injects one fault at a time into a
 * {@linkcode FaultCluster}, holds it, heals it, and lets the cluster breathe before the next.
 * Which fault, on which node and for how long all come from the run's seeded PRNG (the timing
 * of real processes still varies from run to run: a seed replays the schedule, not the
 * interleaving).
 *
 * Faults by kind:
 * - `kill`: kill -9 of the leader, of a random node, or (rarely) of every node, then restart;
 * - `pause`: SIGSTOP of the leader or of a random node, then SIGCONT (a paused leader wakes up
 *   still believing it leads);
 * - `partition`: links cut at the TCP proxies, dropped or stalled: a random minority from the
 *   majority, the leader alone (or with one other in a minority), a bridge (two sides that only
 *   one node hears), or one-way (a node's messages reach nobody, while it hears everyone);
 * - `clock`: a follower's wall clock jumps by up to `clockSkewMs` either way. A jump happens
 *   only while the node is frozen and someone else leads, so no leader's clock jumps (the lease
 *   design assumes bounded drift of a leader's clock, not steps, see src/state/lock_table.ts);
 *   the node keeps its offset, and may lead later with it;
 * - `member`: a membership change through the API, one at a time, keeping the cluster at its
 *   founding number of voters between actions: replace a random node with a fresh one (kill -9,
 *   wipe its data, start a new node with `--join`, promote it, remove the dead one), remove a
 *   voter (sometimes the leader) and add a fresh one in its place (a new id: ids are never
 *   reused), or add a learner, which the next member fault promotes and the one after that
 *   evens out by removing a voter. Clients follow: the harness lists only live members.
 *
 * @module
 */

import { setTimeout as delay } from "node:timers/promises";
import type { Prng } from "../checker/prng.ts";
import type { FaultCluster } from "./cluster.ts";
import type { BlockMode } from "./tcp_proxy.ts";
import {
  describeAnswer,
  listMembers,
  memberCall,
  type MemberInfo,
  refusalCode,
} from "./member_api.ts";

/**
 * A kind of fault, as named on the command line.
 *
 * @example
 * ```ts
 * import type { FaultKind } from "./nemesis.ts";
 * const kinds: FaultKind[] = ["kill", "partition"];
 * ```
 */
export type FaultKind = "kill" | "pause" | "partition" | "clock" | "member";

/**
 * Every fault kind, in the order `all` expands to.
 *
 * @example
 * ```ts
 * import { FAULT_KINDS } from "./nemesis.ts";
 * console.log(FAULT_KINDS.join(","));
 * ```
 */
export const FAULT_KINDS: readonly FaultKind[] = ["kill", "pause", "partition", "clock", "member"];

/** How long one step of a membership change (a join, a promotion, a removal) may take. */
const MEMBER_STEP_MS = 30_000;
/** Refusals after which a membership change is worth asking again. */
const RETRYABLE = new Set([
  "not-caught-up",
  "change-in-progress",
  "no-leader",
  "no-quorum",
  "outcome-unknown",
  "timeout",
  "not-ready",
  "no answer",
  "status 503",
  "status 504",
  "status 500",
]);

/**
 * Parses `--nemesis kill,pause` (or `all`, or `none`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseFaultKinds } from "./nemesis.ts";
 * assert.deepEqual(parseFaultKinds("kill,pause"), ["kill", "pause"]);
 * ```
 */
export function parseFaultKinds(list: string): FaultKind[] {
  if (list === "none") return [];
  if (list === "all") return [...FAULT_KINDS];
  const kinds = list.split(",").map((s) => s.trim()).filter((s) => s !== "");
  for (const kind of kinds) {
    if (!(FAULT_KINDS as readonly string[]).includes(kind)) {
      throw new Error(`unknown nemesis ${JSON.stringify(kind)}; use ${FAULT_KINDS.join(", ")}`);
    }
  }
  return [...new Set(kinds)] as FaultKind[];
}

/**
 * One thing the nemesis did, for the run's summary.
 *
 * @example
 * ```ts
 * import type { NemesisEvent } from "./nemesis.ts";
 * const e: NemesisEvent = { timeMs: 1200, action: "kill", detail: "leader 2" };
 * ```
 */
export interface NemesisEvent {
  /** Milliseconds since the run started. */
  timeMs: number;
  action: string;
  detail: string;
}

/**
 * Timing and reach of the nemesis.
 *
 * @example
 * ```ts
 * import type { NemesisOptions } from "./nemesis.ts";
 * const o: NemesisOptions = { kinds: ["pause"], quietMs: [1000, 3000], faultMs: [1000, 4000] };
 * ```
 */
export interface NemesisOptions {
  kinds: readonly FaultKind[];
  /** How long the cluster is left alone between faults: [min, max] ms. */
  quietMs: [number, number];
  /** How long a fault lasts: [min, max] ms. */
  faultMs: [number, number];
  /** The largest clock jump, ms. Default 10,000. */
  clockSkewMs?: number;
}

type Heal = () => Promise<void>;

/**
 * Injects faults until stopped, then heals everything.
 *
 * @example
 * ```ts ignore
 * const nemesis = new Nemesis(cluster, prng, { kinds: ["kill"], quietMs: [1000, 2000],
 *   faultMs: [1000, 3000] });
 * const running = nemesis.run(AbortSignal.timeout(10_000));
 * await running;
 * await nemesis.healAll();
 * ```
 */
export class Nemesis {
  readonly events: NemesisEvent[] = [];
  readonly #cluster: FaultCluster;
  readonly #prng: Prng;
  readonly #options: NemesisOptions;
  readonly #started = performance.now();
  /** How many voters the cluster had at its founding: member faults return to it. */
  readonly #voters: number;

  constructor(cluster: FaultCluster, prng: Prng, options: NemesisOptions) {
    this.#cluster = cluster;
    this.#prng = prng;
    this.#options = options;
    this.#voters = cluster.ids.length;
  }

  #between([min, max]: [number, number]): number {
    return min + this.#prng.int(max - min + 1);
  }

  #note(action: string, detail: string): void {
    const timeMs = Math.round(performance.now() - this.#started);
    this.events.push({ timeMs, action, detail });
  }

  /**
   * Runs the fault schedule until `signal` aborts; the fault in force then is healed before
   * this resolves.
   *
   * @example
   * ```ts ignore
   * await nemesis.run(AbortSignal.timeout(60_000));
   * ```
   */
  async run(signal: AbortSignal): Promise<void> {
    const { kinds } = this.#options;
    if (kinds.length === 0) return;
    const wait = (ms: number) => delay(ms, undefined, { signal }).catch(() => {});
    while (!signal.aborted) {
      await wait(this.#between(this.#options.quietMs));
      if (signal.aborted) break;
      const kind = this.#prng.pick(kinds);
      let heal: Heal | undefined;
      try {
        heal = await this.#inject(kind);
      } catch (error) {
        this.#note("error", `${kind}: ${(error as Error).message}`);
      }
      await wait(this.#between(this.#options.faultMs));
      if (heal) await heal();
    }
  }

  /**
   * Undoes every fault that may be in force: links restored, paused nodes resumed, nodes
   * that are down restarted. Clock offsets stay (setting them back would be a jump).
   *
   * @example
   * ```ts ignore
   * await nemesis.healAll();
   * ```
   */
  async healAll(): Promise<void> {
    const cluster = this.#cluster;
    cluster.healLinks();
    for (const id of cluster.ids) {
      if (cluster.isPaused(id)) await cluster.resume(id);
      if (!cluster.isUp(id)) await cluster.restart(id);
    }
    this.#note("heal-all", "links restored, nodes resumed and restarted");
  }

  async #inject(kind: FaultKind): Promise<Heal | undefined> {
    switch (kind) {
      case "kill":
        return await this.#kill();
      case "pause":
        return await this.#pause();
      case "partition":
        return await this.#partition();
      case "clock":
        return await this.#clock();
      case "member":
        await this.#member();
        return undefined;
    }
  }

  async #target(leaderChance: number): Promise<{ id: number; what: string }> {
    const cluster = this.#cluster;
    if (this.#prng.chance(leaderChance)) {
      const leader = await cluster.currentLeader();
      if (leader !== undefined) return { id: leader, what: `leader ${leader}` };
    }
    const id = this.#prng.pick(cluster.ids);
    return { id, what: `node ${id}` };
  }

  async #kill(): Promise<Heal> {
    const cluster = this.#cluster;
    if (this.#prng.chance(0.15)) {
      await Promise.all(cluster.ids.map((id) => cluster.kill(id)));
      this.#note("kill", "every node");
      return async () => {
        for (const id of cluster.ids) await cluster.restart(id);
        this.#note("restart", "every node");
      };
    }
    const { id, what } = await this.#target(0.5);
    await cluster.kill(id);
    this.#note("kill", what);
    return async () => {
      await cluster.restart(id);
      this.#note("restart", `node ${id}`);
    };
  }

  async #pause(): Promise<Heal> {
    const cluster = this.#cluster;
    const { id, what } = await this.#target(0.6);
    await cluster.pause(id);
    this.#note("pause", what);
    return async () => {
      await cluster.resume(id);
      this.#note("resume", `node ${id}`);
    };
  }

  async #partition(): Promise<Heal> {
    const cluster = this.#cluster;
    const ids = this.#prng.shuffle([...cluster.ids]);
    const mode: BlockMode = this.#prng.chance(0.5) ? "drop" : "stall";
    const minoritySize = Math.floor((ids.length - 1) / 2);
    const links: [number, number][] = [];
    const cutBetween = (a: number[], b: number[]) => {
      for (const x of a) for (const y of b) links.push([x, y], [y, x]);
    };
    let detail: string;
    const shape = this.#prng.pick(["halves", "leader", "bridge", "one-way"] as const);
    if (shape === "leader") {
      const leader = await cluster.currentLeader() ?? ids[0];
      const rest = ids.filter((id) => id !== leader);
      const minority = [leader, ...rest.slice(0, minoritySize - 1)];
      cutBetween(minority, ids.filter((id) => !minority.includes(id)));
      detail = `leader side ${JSON.stringify(minority)} | ${
        JSON.stringify(rest.slice(minoritySize - 1))
      }`;
    } else if (shape === "bridge") {
      // The bridge hears both sides; the sides do not hear each other.
      const [bridge, ...others] = ids;
      const half = Math.floor(others.length / 2);
      const left = others.slice(0, half);
      const right = others.slice(half);
      cutBetween(left, right);
      detail = `${JSON.stringify(left)} | bridge ${bridge} | ${JSON.stringify(right)}`;
    } else if (shape === "one-way") {
      const leader = this.#prng.chance(0.5) ? await cluster.currentLeader() : undefined;
      const mute = leader ?? ids[0];
      for (const other of ids) if (other !== mute) links.push([mute, other]);
      detail = `node ${mute}${leader ? " (leader)" : ""} cannot send, still hears everyone`;
    } else {
      const minority = ids.slice(0, minoritySize);
      const majority = ids.slice(minoritySize);
      cutBetween(minority, majority);
      detail = `${JSON.stringify(minority)} | ${JSON.stringify(majority)}`;
    }
    cluster.cut(links, mode);
    this.#note("partition", `${shape} (${mode}): ${detail}`);
    return () => {
      cluster.healLinks();
      this.#note("heal", "links restored");
      return Promise.resolve();
    };
  }

  async #clock(): Promise<Heal | undefined> {
    const cluster = this.#cluster;
    const leader = await cluster.currentLeader();
    const candidates = cluster.ids.filter((id) => id !== leader && cluster.isUp(id));
    if (leader === undefined || candidates.length === 0) {
      this.#note("clock", "skipped: no settled leader");
      return undefined;
    }
    const id = this.#prng.pick(candidates);
    await cluster.pause(id);
    try {
      // Frozen, the node cannot win an election; make sure it had not just won one.
      const others = cluster.ids.filter((other) => other !== id && cluster.isUp(other));
      const views = await Promise.all(others.map((other) => cluster.status(other)));
      const agreed = views.every((v) => v?.leaderId === leader);
      if (!agreed) {
        this.#note("clock", `skipped: leadership moving while node ${id} was frozen`);
        return undefined;
      }
      const skew = this.#options.clockSkewMs ?? 10_000;
      const offset = this.#prng.int(2 * skew + 1) - skew;
      await cluster.setClockOffset(id, offset);
      this.#note("clock", `node ${id} (follower of ${leader}) now ${offset} ms off`);
    } finally {
      await cluster.resume(id);
    }
    return undefined;
  }

  // ---- membership -------------------------------------------------------------------------

  /** The member list from a live node (the leader's when one answers), or undefined. */
  async #memberList(): Promise<MemberInfo[] | undefined> {
    const cluster = this.#cluster;
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const live = cluster.ids.filter((id) => cluster.isUp(id) && !cluster.isPaused(id));
      for (const id of this.#prng.shuffle(live)) {
        const members = await listMembers(cluster.clientUrl(id));
        if (members) return members;
      }
      await delay(200);
    }
    return undefined;
  }

  /** A live node to send a change to (the change runs on the leader wherever it is asked). */
  #via(): string {
    const cluster = this.#cluster;
    const live = cluster.ids.filter((id) => cluster.isUp(id) && !cluster.isPaused(id));
    return cluster.clientUrl(this.#prng.pick(live.length > 0 ? live : cluster.ids));
  }

  /**
   * Asks for a change until it is made, refused for good, or `MEMBER_STEP_MS` passed; an
   * answer that did not come is settled by the member list (`done`).
   */
  async #change(
    what: string,
    method: string,
    path: string,
    done: (members: MemberInfo[]) => boolean,
  ): Promise<boolean> {
    const deadline = Date.now() + MEMBER_STEP_MS;
    let last = "";
    while (Date.now() < deadline) {
      const answer = await memberCall(this.#via(), method, path);
      if (answer.status >= 200 && answer.status < 300) return true;
      last = describeAnswer(answer);
      const members = await this.#memberList();
      if (members && done(members)) return true;
      if (!RETRYABLE.has(refusalCode(answer))) break;
      await delay(300);
    }
    this.#note("error", `member: ${what} not made: ${last}`);
    return false;
  }

  async #promote(id: number): Promise<boolean> {
    const ok = await this.#change(
      `promote ${id}`,
      "POST",
      `/v1/members/${id}/promote`,
      (members) => members.some((m) => m.id === id && m.role === "voter"),
    );
    if (ok) this.#note("member", `promoted ${id}`);
    return ok;
  }

  /** Removes node `id` from the cluster, then ends it for good. */
  async #remove(id: number, why: string): Promise<boolean> {
    const ok = await this.#change(
      `remove ${id}`,
      "DELETE",
      `/v1/members/${id}`,
      (members) => !members.some((m) => m.id === id),
    );
    if (ok) {
      if (this.#cluster.ids.includes(id)) await this.#cluster.retire(id);
      this.#note("member", `removed ${id} (${why})`);
    }
    return ok;
  }

  /** Starts a fresh node with `--join`; returns its id once the cluster lists it. */
  async #join(): Promise<number | undefined> {
    const cluster = this.#cluster;
    const live = cluster.ids.filter((id) => cluster.isUp(id) && !cluster.isPaused(id));
    const via = this.#prng.pick(live.length > 0 ? live : cluster.ids);
    const id = await cluster.join(via);
    const deadline = Date.now() + MEMBER_STEP_MS;
    while (Date.now() < deadline && !cluster.diedOnItsOwn(id)) {
      const members = await listMembers(cluster.clientUrl(via));
      const status = members?.some((m) => m.id === id) ? await cluster.status(id) : undefined;
      if (status) {
        cluster.admit(id);
        this.#note("member", `node ${id} joined through node ${via} as a learner`);
        return id;
      }
      await delay(200);
    }
    this.#note("error", `member: node ${id} did not join through node ${via}; see its log`);
    // It may be listed (the add was made, the start failed): the next member fault removes it.
    await cluster.retire(id);
    return undefined;
  }

  async #member(): Promise<void> {
    const cluster = this.#cluster;
    const members = await this.#memberList();
    if (!members) {
      this.#note("member", "skipped: no node listed the members");
      return;
    }
    // What a change that failed half-way left behind is cleared up first.
    const stale = members.find((m) => !cluster.ids.includes(m.id));
    if (stale) {
      await this.#remove(stale.id, "left over from an earlier change");
      return;
    }
    for (const id of cluster.ids) {
      if (!members.some((m) => m.id === id)) {
        this.#note("member", `node ${id} is no member: retired`);
        await cluster.retire(id);
      }
    }
    const voters = members.filter((m) => m.role === "voter").map((m) => m.id);
    const learner = members.find((m) => m.role === "learner");
    if (learner) {
      await this.#promote(learner.id);
      return;
    }
    if (voters.length > this.#voters) {
      const { id, what } = await this.#target(0.3);
      await this.#remove(
        voters.includes(id) ? id : this.#prng.pick(voters),
        `one too many: ${what}`,
      );
      return;
    }
    const shape = this.#prng.pick(["replace", "remove-add", "learner"] as const);
    if (shape === "learner") {
      await this.#join();
    } else if (shape === "replace") {
      const { id, what } = await this.#target(0.3);
      await cluster.kill(id);
      await cluster.retire(id);
      this.#note("member", `replace ${what}: killed (-9) and wiped`);
      const fresh = await this.#join();
      if (fresh !== undefined) await this.#promote(fresh);
      await this.#remove(id, `replaced by ${fresh ?? "nobody"}`);
    } else {
      const { id, what } = await this.#target(0.3);
      if (await this.#remove(id, `${what}, to be added back as a new node`)) {
        const fresh = await this.#join();
        if (fresh !== undefined) await this.#promote(fresh);
      }
    }
  }
}
