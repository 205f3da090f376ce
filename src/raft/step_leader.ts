/**
 * How a leader handles messages: proposals, replication (AppendEntries and InstallSnapshot),
 * commit, ReadIndex and leadership transfer.
 *
 * @module
 */

import type { Raft } from "./raft.ts";
import { entrySize } from "./raft_log.ts";
import type { PendingRead } from "./read_only.ts";
import type { Progress } from "./tracker/progress.ts";
import { type Message, type NodeId, NONE } from "./types.ts";

/**
 * The leader's step function.
 *
 * @example
 * ```ts ignore
 * stepLeader(raft, { type: "beat", from: 1, to: 1, ... });
 * ```
 */
export function stepLeader(r: Raft, m: Message): void {
  switch (m.type) {
    case "beat":
      r.bcastHeartbeat();
      return;
    case "prop":
      propose(r, m);
      return;
    case "readIndex":
      readIndex(r, m);
      return;
    case "transferLeader":
      transferLeader(r, m.from);
      return;
  }
  const pr = r.tracker.progress.get(m.from);
  if (!pr) return; // not (or no longer) a member
  switch (m.type) {
    case "appResp":
      handleAppendResponse(r, m, pr);
      return;
    case "heartbeatResp":
      handleHeartbeatResponse(r, m, pr);
      return;
    case "snapResp":
      pr.recentActive = true;
      if (pr.state === "snapshot" && m.index === pr.pendingSnapshot) {
        pr.snapshotOffset = m.rejectHint;
        sendSnapshotChunk(r, m.from, pr);
      }
      return;
    case "unreachable":
      // The follower may have lost the optimistic stream: go back to probing.
      if (pr.state === "replicate") pr.becomeProbe();
      return;
    case "snapStatus":
      if (pr.state !== "snapshot") return;
      if (m.reject) pr.becomeProbe(); // the next send starts the snapshot over
      else pr.snapshotSentAt = r.ticks;
      return;
  }
}

function propose(r: Raft, m: Message): void {
  // A leader being removed, or handing over, takes no new work.
  if (!r.tracker.progress.has(r.id) || r.leadTransferee !== NONE) return;
  const ents = m.entries.map((e) => {
    if (e.type !== "conf") return e;
    if (r.pendingConfIndex > r.log.applied) {
      // One membership change at a time: the previous one is not applied yet.
      return { ...e, type: "normal" as const, data: new Uint8Array() };
    }
    return e;
  });
  const first = r.log.lastIndex() + 1;
  ents.forEach((e, i) => {
    if (e.type === "conf") r.pendingConfIndex = first + i;
  });
  r.appendEntries(ents);
  bcastAppend(r);
}

/** Sends AppendEntries to every follower that is ready for more. */
export function bcastAppend(r: Raft): void {
  for (const id of r.tracker.progress.keys()) {
    if (id !== r.id) sendAppend(r, id, true);
  }
}

/**
 * Sends the entries a follower lacks (or a snapshot, if they were compacted). With
 * `sendIfEmpty` false, it sends nothing when there are no new entries. Returns whether it sent.
 */
export function sendAppend(r: Raft, to: NodeId, sendIfEmpty: boolean): boolean {
  const pr = r.tracker.progress.get(to);
  if (!pr || pr.isPaused()) return false;
  const prevIndex = pr.next - 1;
  const prevTerm = r.log.term(prevIndex);
  if (prevTerm === undefined) {
    if (!r.log.snapshot) return false;
    pr.becomeSnapshot(r.log.snapshot.metadata.index);
    sendSnapshotChunk(r, to, pr);
    return true;
  }
  const entries = pr.next <= r.log.lastIndex()
    ? r.log.slice(pr.next, r.log.lastIndex() + 1, r.cfg.maxSizePerMsg)
    : [];
  if (entries.length === 0 && !sendIfEmpty) return false;
  r.send({
    type: "app",
    to,
    index: prevIndex,
    logTerm: prevTerm,
    entries,
    commit: r.log.committed,
  });
  if (pr.state === "replicate" && entries.length > 0) {
    const last = entries[entries.length - 1].index;
    pr.optimisticUpdate(last);
    pr.inflights.add(last, entries.reduce((n, e) => n + entrySize(e), 0));
  } else if (pr.state === "probe") {
    pr.probeSent = true;
  }
  return true;
}

/**
 * Sends the next chunk of the snapshot to every follower waiting for one (after the driver
 * handed back the snapshot's released data).
 */
export function sendWaitingSnapshots(r: Raft): void {
  if (r.role !== "leader") return;
  for (const [id, pr] of r.tracker.progress) {
    if (id !== r.id && pr.state === "snapshot") sendSnapshotChunk(r, id, pr);
  }
}

/** Sends the next chunk of the snapshot a follower is receiving (Raft paper, figure 13). */
function sendSnapshotChunk(r: Raft, to: NodeId, pr: Progress): void {
  const snap = r.log.snapshot;
  if (!snap) return;
  if (snap.metadata.index !== pr.pendingSnapshot) {
    pr.becomeSnapshot(snap.metadata.index); // a newer snapshot replaced it: start over
  }
  if (!r.log.snapshotDataHeld) {
    // Released to save memory (etcd-io/raft: ErrSnapshotTemporarilyUnavailable): ask the driver
    // for it and send nothing now; a later heartbeat answer retries, or its arrival.
    r.snapshotWanted = snap.metadata.index;
    return;
  }
  const total = snap.data.byteLength;
  const offset = Math.min(pr.snapshotOffset, total);
  const data = snap.data.subarray(offset, offset + r.cfg.snapshotChunkBytes);
  r.send({
    type: "snap",
    to,
    snapshot: {
      metadata: snap.metadata,
      offset,
      data,
      done: offset + data.byteLength >= total,
      total,
    },
  });
  pr.snapshotSentAt = r.ticks;
}

function handleAppendResponse(r: Raft, m: Message, pr: Progress): void {
  pr.recentActive = true;
  if (m.reject) {
    // Fast backtracking: skip every entry of a term the follower cannot have.
    let hint = m.rejectHint;
    if (m.logTerm > 0) [hint] = r.log.findConflictByTerm(m.rejectHint, m.logTerm);
    if (pr.maybeDecrTo(m.index, hint)) {
      if (pr.state === "replicate") pr.becomeProbe();
      sendAppend(r, m.from, true);
    }
    return;
  }
  const wasPaused = pr.isPaused();
  // An empty probe acknowledged at the known match also ends probing (etcd does the same);
  // without this a follower whose match is already right would stay paused.
  const probeAcked = pr.state === "probe" && m.index === pr.match;
  if (!pr.maybeUpdate(m.index) && !probeAcked) return;
  if (pr.state === "probe") {
    pr.becomeReplicate();
  } else if (pr.state === "snapshot") {
    if (pr.match >= pr.pendingSnapshot) pr.becomeReplicate();
  } else {
    pr.inflights.freeLE(m.index);
  }
  if (commitAndRelease(r)) bcastAppend(r);
  else if (wasPaused) sendAppend(r, m.from, true);
  while (sendAppend(r, m.from, false)) {
    // keep the pipeline full while the window allows
  }
  if (m.from === r.leadTransferee && pr.match === r.log.lastIndex()) {
    r.send({ type: "timeoutNow", to: m.from });
  }
}

function handleHeartbeatResponse(r: Raft, m: Message, pr: Progress): void {
  pr.recentActive = true;
  pr.probeSent = false;
  if (pr.state === "snapshot") {
    // A chunk (or its answer) may have been lost: resend after a quiet while.
    if (r.ticks - pr.snapshotSentAt >= 2 * r.cfg.heartbeatTicks) {
      sendSnapshotChunk(r, m.from, pr);
    }
  } else if (pr.match < r.log.lastIndex()) {
    // A full window whose messages were lost would stall this follower for good: the
    // heartbeat got through, so let one more AppendEntries go (a gap makes it probe again).
    if (pr.state === "replicate" && pr.inflights.full()) pr.inflights.freeFirstOne();
    sendAppend(r, m.from, true);
  }
  if (m.context !== undefined && m.context.length > 0) {
    for (const read of r.readOnly.ack(r.tracker.voters, m.from, m.context)) {
      releaseRead(r, read);
    }
  }
}

/**
 * Commits what a majority has; when that is the leader's first commit in its term, serves the
 * reads that were waiting for it. Returns whether the commit index moved.
 */
export function commitAndRelease(r: Raft): boolean {
  if (!r.maybeCommit()) return false;
  if (r.pendingReadIndex.length > 0 && r.committedInCurrentTerm()) {
    const waiting = r.pendingReadIndex;
    r.pendingReadIndex = [];
    for (const m of waiting) startRead(r, m);
  }
  return true;
}

/** ReadIndex (thesis 6.4): record the commit index, then confirm leadership with a quorum. */
function readIndex(r: Raft, m: Message): void {
  if (!r.committedInCurrentTerm()) {
    // The commit index of a new leader may lag until its no-op commits.
    r.pendingReadIndex.push(m);
    return;
  }
  startRead(r, m);
}

function startRead(r: Raft, m: Message): void {
  const read: PendingRead = {
    index: r.log.committed,
    from: m.from,
    context: m.context ?? new Uint8Array(),
    acks: new Map([[r.id, true]]),
  };
  if (r.tracker.voters.length === 1 && r.tracker.isVoter(r.id)) {
    releaseRead(r, read);
    return;
  }
  r.bcastHeartbeat(r.readOnly.add(read));
}

function releaseRead(r: Raft, read: PendingRead): void {
  if (read.from === r.id || read.from === NONE) {
    r.readStates.push({ index: read.index, context: read.context });
  } else {
    r.send({ type: "readIndexResp", to: read.from, index: read.index, context: read.context });
  }
}

/**
 * Leadership transfer (thesis 3.10): catch the target up, then tell it to campaign now.
 *
 * @example
 * ```ts ignore
 * transferLeader(raft, 2); // raft leads; node 2 is a voter
 * ```
 */
export function transferLeader(r: Raft, target: NodeId): void {
  const pr = r.tracker.progress.get(target);
  if (!pr || pr.isLearner || target === r.id) return;
  if (r.leadTransferee === target) return;
  r.leadTransferee = target;
  r.electionElapsed = 0; // the transfer must finish within one election timeout
  if (pr.match === r.log.lastIndex()) r.send({ type: "timeoutNow", to: target });
  else sendAppend(r, target, true);
}
