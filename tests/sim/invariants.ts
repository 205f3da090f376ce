/**
 * The safety properties of Raft (paper, figure 3), checked by the simulator after every step:
 * election safety, leader append-only, log matching, leader completeness and state machine
 * safety, plus "a committed entry stays committed".
 *
 * They hold across membership changes (thesis 4.1), and three checks follow the configuration
 * each leader has: a leader is a voter of its own configuration when it takes the lead (a learner
 * or a removed node never becomes leader; one that applies its own removal may lead on until it
 * hands over); a new leader was granted votes by a majority of its configuration's voters (a
 * learner's or a removed node's vote never counts); and when a leader's commit index advances,
 * the entry is on the disks of a majority of its configuration's voters (a removed node or a
 * learner never counts towards a commit). The first two are election safety across
 * configurations, the last state machine safety: an entry "committed" on a minority can be lost.
 *
 * @module
 */

import type { CoreView } from "../../src/raft/raw_node.ts";
import type { Entry, Message, NodeId } from "../../src/raft/types.ts";

/** Which property a violation breaks. */
export type Property =
  | "election safety"
  | "leader append-only"
  | "log matching"
  | "leader completeness"
  | "state machine safety";

/** Thrown by the checker at the first violation. */
export class SafetyViolation extends Error {
  override name = "SafetyViolation";
  constructor(readonly property: Property, detail: string) {
    super(`${property}: ${detail}`);
  }
}

const decoder = new TextDecoder();

function fingerprint(e: Entry): string {
  return `${e.type}:${decoder.decode(e.data)}`;
}

/**
 * The same entry: term, type and command. The log hands out a new object per read (its entries
 * live in columns, `entry_store.ts`), so identity says nothing; every command the simulator
 * proposes is unique, so equal content is the same proposal.
 */
function sameEntry(a: Entry | undefined, b: Entry | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.term === b.term && fingerprint(a) === fingerprint(b);
}

interface LeaderMark {
  term: number;
  index: number;
  entry?: Entry;
  /** The leader's commit index when last seen: an advance is checked against its voters. */
  committed: number;
  /** Its voters when last seen (a change applied since may not have decided the commit). */
  voters: NodeId[];
}

/**
 * What node `id`'s disk durably holds at `index`: the entry's term, "snapshot" when a durable
 * snapshot covers it, undefined when it holds nothing there (`SimDisk.durableTerm`).
 */
export type DurableTerm = (id: NodeId, index: number) => number | "snapshot" | undefined;

/**
 * Watches every node of a simulated cluster. Call `observe` after every step with views of the
 * live cores (`RawNode.view`, `RaftNode.coreView()`), `persisting` for each batch of entries a node writes, and `onApply` for each applied
 * entry.
 *
 * @example
 * ```ts ignore
 * const checker = new SafetyChecker();
 * checker.observe(new Map([[1, node1.coreView()], [2, node2.coreView()]]));
 * ```
 */
export class SafetyChecker {
  /** term -> the leader of that term. */
  readonly #leaderOfTerm = new Map<number, NodeId>();
  /**
   * The committed log as far as any node has reported it: index i at [i - 1]. `seenInTerm` is
   * the term of the node that first reported the commit: the entry was committed in that term
   * or earlier.
   */
  readonly committed: { term: number; print: string; seenInTerm: number }[] = [];
  /** "index:term" -> the command and the term of the entry before it. */
  readonly #seen = new Map<string, { print: string; prevTerm: number | undefined }>();
  readonly #leaderMarks = new Map<NodeId, LeaderMark>();
  /** Per node: the commit index up to which its log was compared with `committed`. */
  readonly #checkedCommit = new Map<NodeId, number>();
  /** "candidate:term" -> the nodes whose granted vote reached the candidate. */
  readonly #votes = new Map<string, Set<NodeId>>();
  readonly #durable?: DurableTerm;
  readonly #countVotes: boolean;
  /** Commit advances checked against the disks of the leader's voters. */
  commitQuorumChecks = 0;

  /**
   * `durable`: what each node's disk holds, for the commit-quorum check; `votes`: whether every
   * delivered message is passed to `onDeliver`, for the vote-quorum check. Without them (a
   * scripted test that steps cores by hand) those two checks are skipped.
   */
  constructor(options: { durable?: DurableTerm; votes?: boolean } = {}) {
    this.#durable = options.durable;
    this.#countVotes = options.votes ?? false;
  }

  /** A message reached a live node: a granted vote is remembered for the quorum check. */
  onDeliver(m: Message): void {
    if (m.type !== "voteResp" || m.reject) return;
    const key = `${m.to}:${m.term}`;
    let set = this.#votes.get(key);
    if (!set) this.#votes.set(key, set = new Set());
    set.add(m.from);
  }

  /** How many terms had a leader. */
  get leaderTerms(): number {
    return this.#leaderOfTerm.size;
  }

  /** A node restarted: its memory is new, so check its committed prefix again. */
  onRestart(id: NodeId): void {
    this.#checkedCommit.delete(id);
    this.#leaderMarks.delete(id);
  }

  /** Checks every property that can be read off the cores now. */
  observe(nodes: Map<NodeId, CoreView>): void {
    for (const [id, r] of nodes) {
      if (r.role === "leader") this.#checkLeader(id, r);
      else this.#leaderMarks.delete(id);
      this.#checkCommitted(id, r);
    }
  }

  #checkLeader(id: NodeId, r: CoreView): void {
    const known = this.#leaderOfTerm.get(r.term);
    if (known !== undefined && known !== id) {
      throw new SafetyViolation(
        "election safety",
        `nodes ${known} and ${id} are both leaders of term ${r.term}`,
      );
    }
    const conf = r.confState();
    // A leader that applies its own removal goes on leading its term, counting only the
    // remaining voters, until it has handed over (thesis 4.2.2; Raft.handOverIfRemoved): only
    // a node that takes the lead must be a voter.
    if (!conf.voters.includes(id) && known !== id) {
      throw new SafetyViolation(
        "election safety",
        `node ${id} leads term ${r.term} but is no voter of its configuration ` +
          `(voters ${conf.voters.join(",")}; learners ${conf.learners.join(",") || "none"})`,
      );
    }
    if (known === undefined && this.#countVotes) this.#checkVotes(id, r, conf.voters);
    this.#leaderOfTerm.set(r.term, id);
    const mark = this.#leaderMarks.get(id);
    if (!mark || mark.term !== r.term) {
      this.#checkCompleteness(id, r);
    } else if (r.committed > mark.committed) {
      this.#checkCommitQuorum(id, r, mark.voters, conf.voters);
    }
    if (mark && mark.term === r.term && mark.index > r.offset) {
      // Leader append-only: what it had is still there, the very same entries.
      if (r.lastIndex() < mark.index || !sameEntry(r.entry(mark.index), mark.entry)) {
        throw new SafetyViolation(
          "leader append-only",
          `leader ${id} of term ${r.term} lost or rewrote entry ${mark.index}`,
        );
      }
    }
    const last = r.lastIndex();
    this.#leaderMarks.set(id, {
      term: r.term,
      index: last,
      entry: r.entry(last),
      committed: r.committed,
      voters: conf.voters,
    });
  }

  /**
   * A new leader was granted votes by a majority of the voters of its configuration (it votes
   * for itself); votes of learners and of nodes outside it never count.
   */
  #checkVotes(id: NodeId, r: CoreView, voters: NodeId[]): void {
    const granted = this.#votes.get(`${id}:${r.term}`) ?? new Set<NodeId>();
    const counted = voters.filter((v) => v === id || granted.has(v));
    if (counted.length <= voters.length / 2) {
      throw new SafetyViolation(
        "election safety",
        `node ${id} leads term ${r.term} with votes of ${counted.join(",")} only, ` +
          `of voters ${voters.join(",")}` +
          (granted.size > 0 ? ` (granted by ${[...granted].join(",")})` : ""),
      );
    }
    // A term has one leader (checked above): its votes are not needed again.
    this.#votes.delete(`${id}:${r.term}`);
  }

  /**
   * The leader's commit index advanced: the entry there is on the disks of a majority of the
   * leader's voters (a learner, a removed node or a lost write never counts). A change takes
   * effect as it is applied, so the commit was decided by the voters before the step (`before`)
   * or, when the step applied a change that shrank the quorum, by those after it (`after`).
   */
  #checkCommitQuorum(id: NodeId, r: CoreView, before: NodeId[], after: NodeId[]): void {
    const durable = this.#durable;
    if (!durable) return;
    const index = r.committed;
    const term = r.termAt(index);
    if (term === undefined) return; // compacted at once: nothing to compare
    this.commitQuorumChecks++;
    const holders = (voters: NodeId[]) =>
      voters.filter((v) => {
        const t = durable(v, index);
        return t === "snapshot" || t === term;
      });
    const majority = (voters: NodeId[]) => holders(voters).length > voters.length / 2;
    if (!majority(before) && !majority(after)) {
      throw new SafetyViolation(
        "state machine safety",
        `leader ${id} of term ${r.term} committed entry ${index} (term ${term}), which only ` +
          `${holders(after).join(",") || "no voter"} of voters ${after.join(",")} hold on disk` +
          (before.join() === after.join() ? "" : ` (voters before: ${before.join(",")})`),
      );
    }
  }

  /**
   * A new leader's log holds every entry committed in an earlier term (paper 5.4.1). A leader
   * elected late with old votes may lack entries committed in later terms; that is allowed.
   */
  #checkCompleteness(id: NodeId, r: CoreView): void {
    for (let i = r.offset + 1; i <= this.committed.length; i++) {
      const want = this.committed[i - 1];
      if (want.seenInTerm >= r.term) continue;
      const e = r.entry(i);
      if (!e || e.term !== want.term || fingerprint(e) !== want.print) {
        throw new SafetyViolation(
          "leader completeness",
          `leader ${id} of term ${r.term} lacks committed entry ${i} (term ${want.term})`,
        );
      }
    }
    if (r.offset > 0 && r.offset <= this.committed.length) {
      const want = this.committed[r.offset - 1];
      if (want.seenInTerm < r.term && want.term !== r.offsetTerm) {
        throw new SafetyViolation(
          "leader completeness",
          `leader ${id}'s snapshot at ${r.offset} has term ${r.offsetTerm}, not ${want.term}`,
        );
      }
    }
  }

  /** Every entry at or below a node's commit index agrees with the committed log. */
  #checkCommitted(id: NodeId, r: CoreView): void {
    const from = Math.max(this.#checkedCommit.get(id) ?? 0, r.offset) + 1;
    for (let i = from; i <= r.committed; i++) {
      const e = r.entry(i)!;
      const print = fingerprint(e);
      if (i <= this.committed.length) {
        const want = this.committed[i - 1];
        if (want.term !== e.term || want.print !== print) {
          throw new SafetyViolation(
            "state machine safety",
            `node ${id} committed entry ${i} of term ${e.term}, but term ${want.term} was committed there`,
          );
        }
      } else if (i === this.committed.length + 1) {
        this.committed.push({ term: e.term, print, seenInTerm: r.term });
      } // Beyond a gap (the node learned commits past what anyone reported) we cannot append
      // here; a later observation fills the gap in order.
      else break;
    }
    this.#checkedCommit.set(id, Math.max(r.committed, r.offset));
  }

  /**
   * Log matching (paper 5.3), in its inductive form: an entry with a given index and term always
   * carries the same command and follows an entry of the same term. Node `id` asks its disk to
   * write `entries` (the entry before each is read off its core now); call the function returned
   * once the write is durable. Only durable entries count: a write a crash lost never existed,
   * and a node that lost its first write as a lone voter may lead the same term again with other
   * entries (nothing of the lost incarnation left it: its messages wait for that write). An
   * entry sent before its leader's write completed counts once a follower's write of it does.
   */
  persisting(id: NodeId, r: CoreView, entries: Entry[]): () => void {
    const written = entries.map((e) => ({
      e,
      prevTerm: r.termAt(e.index - 1), // undefined when compacted away
      print: fingerprint(e),
    }));
    return () => this.#written(id, written);
  }

  #written(
    id: NodeId,
    written: { e: Entry; prevTerm: number | undefined; print: string }[],
  ): void {
    for (const { e, prevTerm, print } of written) {
      const key = `${e.index}:${e.term}`;
      const seen = this.#seen.get(key);
      if (!seen) {
        this.#seen.set(key, { print, prevTerm });
        continue;
      }
      if (seen.print !== print) {
        throw new SafetyViolation(
          "log matching",
          `node ${id} has a different command at index ${e.index}, term ${e.term}`,
        );
      }
      if (prevTerm !== undefined && seen.prevTerm !== undefined && seen.prevTerm !== prevTerm) {
        throw new SafetyViolation(
          "log matching",
          `node ${id}: entry ${e.index} of term ${e.term} follows term ${prevTerm}, elsewhere ${seen.prevTerm}`,
        );
      }
      if (seen.prevTerm === undefined) seen.prevTerm = prevTerm;
    }
  }

  /** State machine safety (paper 5.4.3): every node applies the same entry at an index. */
  onApply(id: NodeId, e: Entry): void {
    const want = this.committed[e.index - 1];
    if (want && (want.term !== e.term || want.print !== fingerprint(e))) {
      throw new SafetyViolation(
        "state machine safety",
        `node ${id} applied entry ${e.index} of term ${e.term}, but term ${want.term} was committed`,
      );
    }
  }
}
