/**
 * Durable Raft storage: the `RaftStorage` contract, `KvStorage` on Deno KV and its in-memory
 * twin `MemoryStorage`.
 *
 * @example
 * ```ts
 * import { KvStorage } from "./mod.ts";
 * const dir = await Deno.makeTempDir();
 * const storage = await KvStorage.open(dir);
 * const { hardState, snapshot, entries } = await storage.load();
 * storage.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */

export { DataDirLock, DataDirLockedError } from "./data_dir_lock.ts";
export { KV_FILE_NAME, KvStorage } from "./kv_storage.ts";
export { MemoryStorage } from "./memory_storage.ts";
export {
  type AppendUpdate,
  initialHardState,
  type PersistedState,
  type RaftStorage,
} from "./raft_storage.ts";
