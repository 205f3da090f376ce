/**
 * The replicated state machine of edgeraft: config values with revisions and watch history,
 * locks with leases and fencing tokens, exactly-once retries, snapshots. Pure and
 * deterministic: it imports nothing outside this folder but msgpack.
 *
 * @example
 * ```ts
 * import { encodeCommand, StateMachine } from "./mod.ts";
 * const sm = new StateMachine();
 * const data = encodeCommand({ cmd: { op: "put", key: "k", value: "v" }, time: 1 });
 * sm.applyEntry(1, 1, data).result; // { ok: true, key: "k", revision: 1, ... }
 * ```
 *
 * @module
 */

export * from "./commands.ts";
export * from "./config_store.ts";
export * from "./errors.ts";
export * from "./json_value.ts";
export * from "./lock_table.ts";
export * from "./member_directory.ts";
export * from "./results.ts";
export * from "./sessions.ts";
export * from "./snapshot.ts";
export * from "./sorted_keys.ts";
export * from "./state_machine.ts";
export * from "./watch_history.ts";
