/**
 * Child process for `data_dir_lock_test.ts`: `lock_holder.ts <dir> hold` opens the storage,
 * prints `locked` and keeps it until stdin ends; `lock_holder.ts <dir> try` prints `opened`, or
 * `refused <json>` and exits with 3 when the directory is locked.
 *
 * @module
 */

import { DataDirLockedError } from "../../src/storage/data_dir_lock.ts";
import { KvStorage } from "../../src/storage/kv_storage.ts";

const [dir, mode] = Deno.args;
try {
  const storage = await KvStorage.open(dir);
  if (mode === "hold") {
    console.log("locked");
    for await (const _ of Deno.stdin.readable) {
      // wait for the parent to close stdin (or to kill us)
    }
  } else {
    console.log("opened");
  }
  storage.close();
} catch (error) {
  if (!(error instanceof DataDirLockedError)) throw error;
  console.log(`refused ${JSON.stringify({ message: error.message, pid: error.holderPid })}`);
  Deno.exit(3);
}
