/**
 * Starting a node's storage from a backup instead of from nothing: a node that joins a running
 * cluster starts from a member's snapshot (its membership and directory included), and a new
 * cluster can start from an old one's backup (`--restore-from`, with its own members).
 *
 * @module
 */

import type { ConfState } from "../raft/types.ts";
import { StateMachine } from "../state/state_machine.ts";
import type { Backup } from "../storage/backup_file.ts";
import type { RaftStorage } from "../storage/raft_storage.ts";

/**
 * Stores `backup` as the node's snapshot, committed, with nothing after it. The storage must be
 * empty (a fresh data directory); a node started on it then continues from the backup's index.
 *
 * @example
 * ```ts ignore
 * const backup = await decodeBackup(await Deno.readFile("edgeraft.backup"));
 * await startFromBackup(storage, backup);
 * ```
 */
export async function startFromBackup(storage: RaftStorage, backup: Backup): Promise<void> {
  const stored = await storage.load();
  if (stored.snapshot || stored.entries.length > 0 || stored.hardState.term > 0) {
    throw new Error("the data directory is not empty: a backup starts only a new node");
  }
  await storage.saveSnapshot({
    metadata: { index: backup.index, term: backup.term, conf: backup.conf },
    data: backup.data,
  });
  await storage.append({
    entries: [],
    hardState: { term: backup.term, vote: 0, commit: backup.index },
  });
}

/**
 * The backup as a new cluster starts from it: the same state, index and term, but the members
 * the new cluster's flags name, and no directory of the old cluster's addresses.
 *
 * @example
 * ```ts ignore
 * const fresh = forNewCluster(backup, { voters: [1, 2, 3], learners: [] }, "c2");
 * await startFromBackup(storage, fresh);
 * ```
 */
export function forNewCluster(backup: Backup, conf: ConfState, clusterId: string): Backup {
  const sm = StateMachine.restore(backup.data);
  sm.forgetMembers();
  return { ...backup, clusterId, conf, data: sm.snapshot() };
}
