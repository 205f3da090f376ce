/**
 * How followers and candidates handle messages: AppendEntries, heartbeats, InstallSnapshot
 * chunks, vote answers, and requests they pass on to the leader.
 *
 * @module
 */

import type { Raft } from "./raft.ts";
import { bcastAppend } from "./step_leader.ts";
import { type Message, NONE, type Snapshot } from "./types.ts";

/**
 * The follower's step function.
 *
 * @example
 * ```ts ignore
 * stepFollower(raft, appendEntriesFromLeader);
 * ```
 */
export function stepFollower(r: Raft, m: Message): void {
  switch (m.type) {
    case "prop":
    case "transferLeader":
    case "readIndex":
      // Passed on to the leader; without one it is dropped and the caller times out.
      if (r.lead !== NONE) r.msgs.push({ ...m, to: r.lead });
      return;
    case "app":
      heardFromLeader(r, m);
      handleAppendEntries(r, m);
      return;
    case "heartbeat":
      heardFromLeader(r, m);
      handleHeartbeat(r, m);
      return;
    case "snap":
      heardFromLeader(r, m);
      handleSnapshotChunk(r, m);
      return;
    case "timeoutNow":
      r.hup(true);
      return;
    case "peerDown":
      if (m.from === r.lead) r.leaderDown();
      return;
    case "readIndexResp":
      r.readStates.push({ index: m.index, context: m.context ?? new Uint8Array() });
      return;
  }
}

/**
 * The step function of pre-candidates and candidates.
 *
 * @example
 * ```ts ignore
 * stepCandidate(raft, voteResponse);
 * ```
 */
export function stepCandidate(r: Raft, m: Message): void {
  const myVoteResp = r.role === "preCandidate" ? "preVoteResp" : "voteResp";
  switch (m.type) {
    case "app":
    case "heartbeat":
    case "snap":
      if (!r.tracker.isMember(m.from)) {
        // A leader outside this node's configuration (see heardFromLeader) does not end the
        // campaign: standing down would drop the answers on their way, again at each of its
        // heartbeats (on a WAN for ever, seed 549). What it sent is taken all the same.
        stepFollower(r, m);
        return;
      }
      // A leader of this term exists: stand down and take what it sent.
      r.becomeFollower(m.term, m.from);
      stepFollower(r, m);
      return;
    case myVoteResp:
      switch (r.poll(m.from, !m.reject)) {
        case "won":
          if (r.role === "preCandidate") r.campaign("vote", false);
          else {
            r.becomeLeader();
            bcastAppend(r); // the no-op tells everyone at once, so followers stop campaigning
          }
          return;
        case "lost":
          r.becomeFollower(r.term, NONE);
          return;
      }
  }
}

function heardFromLeader(r: Raft, m: Message): void {
  // A leader outside this node's configuration is one whose removal this node applied (or,
  // rarely, one added after what this node has applied): it leads on only to hand over
  // (Raft.handOverIfRemoved), and this node's answers may no longer reach it (its address
  // went with the change). Its messages are taken but do not hold off this node's election,
  // so the remaining voters elect a leader of their own, as they do in thesis 4.2.2 once the
  // removed leader steps down (simulator seed 11: its hand-over never heard back). Nor is it
  // taken for this node's leader (it holds no lease here: see Raft.step).
  if (r.tracker.isMember(m.from)) {
    r.electionElapsed = 0;
    r.lead = m.from;
    r.leaderKnown();
  }
  // What the leader has committed: an AppendEntries says it in `commit`, a heartbeat in
  // `index` (its `commit` is capped at what this follower is known to have), a snapshot is
  // committed up to its index.
  const commit = m.type === "heartbeat"
    ? Math.max(m.index, m.commit)
    : m.type === "snap"
    ? m.snapshot?.metadata.index ?? 0
    : m.commit;
  if (commit > r.leaderCommit) r.leaderCommit = commit;
}

function handleAppendEntries(r: Raft, m: Message): void {
  const log = r.log;
  if (m.index < log.committed) {
    // Everything up to the commit index is settled; say how far this log is known good.
    r.send({ type: "appResp", to: m.from, index: log.committed });
    return;
  }
  const lastNew = r.appendFromLeader(m);
  if (lastNew !== undefined) {
    r.send({ type: "appResp", to: m.from, index: lastNew });
    return;
  }
  // Reject with a hint: the last index at or below m.index whose term is <= m.logTerm, so the
  // leader can skip a whole term of mismatches in one round trip.
  const [hintIndex, hintTerm] = log.findConflictByTerm(
    Math.min(m.index, log.lastIndex()),
    m.logTerm,
  );
  r.send({
    type: "appResp",
    to: m.from,
    index: m.index,
    reject: true,
    rejectHint: hintIndex,
    logTerm: hintTerm,
  });
}

function handleHeartbeat(r: Raft, m: Message): void {
  // The leader sends at most what it knows this follower has, so this never overtakes the log.
  r.log.commitTo(Math.min(m.commit, r.log.lastIndex()));
  r.send({ type: "heartbeatResp", to: m.from, context: m.context });
}

/** Assembles snapshot chunks in order; any gap makes the leader resend from `received`. */
function handleSnapshotChunk(r: Raft, m: Message): void {
  const chunk = m.snapshot;
  if (!chunk) return;
  const meta = chunk.metadata;
  if (meta.index <= r.log.committed) {
    r.incomingSnapshot = undefined;
    r.send({ type: "appResp", to: m.from, index: r.log.committed });
    return;
  }
  let inc = r.incomingSnapshot;
  if (!inc || inc.metadata.index !== meta.index || inc.metadata.term !== meta.term) {
    if (chunk.offset !== 0) {
      r.send({ type: "snapResp", to: m.from, index: meta.index, rejectHint: 0, reject: true });
      return;
    }
    inc = { metadata: meta, buf: new Uint8Array(chunk.total), received: 0 };
    r.incomingSnapshot = inc;
  }
  // Judged by the chunk's own place, not by what was received: a late duplicate of an early
  // chunk fits (and is answered with the progress so far), where judging it by the bytes
  // received made it drop the whole transfer, and duplicates kept restarting it for ever.
  const fits = chunk.offset + chunk.data.byteLength <= inc.buf.byteLength;
  if (chunk.offset !== inc.received || !fits || chunk.total !== inc.buf.byteLength) {
    r.send({
      type: "snapResp",
      to: m.from,
      index: meta.index,
      rejectHint: fits ? inc.received : 0,
      reject: true,
    });
    if (!fits) r.incomingSnapshot = undefined;
    return;
  }
  inc.buf.set(chunk.data, inc.received);
  inc.received += chunk.data.byteLength;
  if (!chunk.done) {
    r.send({ type: "snapResp", to: m.from, index: meta.index, rejectHint: inc.received });
    return;
  }
  r.incomingSnapshot = undefined;
  if (inc.received !== inc.buf.byteLength) {
    r.send({ type: "snapResp", to: m.from, index: meta.index, rejectHint: 0, reject: true });
    return;
  }
  const snap: Snapshot = { metadata: meta, data: inc.buf };
  if (r.log.restoreSnapshot(snap)) {
    r.tracker.setConf(meta.conf);
    r.send({ type: "appResp", to: m.from, index: r.log.lastIndex() });
  } else {
    r.send({ type: "appResp", to: m.from, index: r.log.committed });
  }
}
