/**
 * The safety properties of Raft (paper, figure 3), checked by the simulator after every step:
 * election safety, leader append-only, log matching, leader completeness and state machine
 * safety, plus "a committed entry stays committed".
 *
 * @module
 */

import type { CoreView } from "../../src/raft/raw_node.ts";
import type { Entry, NodeId } from "../../src/raft/types.ts";

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

interface LeaderMark {
  term: number;
  index: number;
  entry?: Entry;
}

/**
 * Watches every node of a simulated cluster. Call `observe` after every step with views of the
 * live cores (`RawNode.view`, `RaftNode.coreView()`), `onPersist` for each batch of entries a node writes, and `onApply` for each applied
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
    this.#leaderOfTerm.set(r.term, id);
    const mark = this.#leaderMarks.get(id);
    if (!mark || mark.term !== r.term) {
      this.#checkCompleteness(id, r);
    } else if (mark.index > r.offset) {
      // Leader append-only: what it had is still there, as the very same entries.
      if (r.lastIndex() < mark.index || r.entry(mark.index) !== mark.entry) {
        throw new SafetyViolation(
          "leader append-only",
          `leader ${id} of term ${r.term} lost or rewrote entry ${mark.index}`,
        );
      }
    }
    const last = r.lastIndex();
    this.#leaderMarks.set(id, { term: r.term, index: last, entry: r.entry(last) });
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
   * carries the same command and follows an entry of the same term.
   */
  onPersist(id: NodeId, r: CoreView, entries: Entry[]): void {
    for (const e of entries) {
      const key = `${e.index}:${e.term}`;
      const prevTerm = r.termAt(e.index - 1); // undefined when compacted away
      const print = fingerprint(e);
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
