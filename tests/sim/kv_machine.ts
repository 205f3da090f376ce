/**
 * The simulator's replicated state machine: registers under keys, with exactly-once apply of
 * client operations (Raft thesis 6.3), so that a proposal the network duplicated, or a client's
 * retry, cannot take effect twice.
 *
 * @module
 */

import type { Entry } from "../../src/raft/types.ts";
import type { JsonValue } from "../checker/history.ts";

/** A client command as the simulator proposes it (JSON text in the entry). */
export interface SimCommand {
  op: number;
  f: "write" | "cas";
  key: string;
  value: JsonValue;
}

/** What applying a command answered. */
export interface SimResult {
  op: number;
  ok: boolean;
}

/**
 * A register map. Snapshots are JSON of the whole state.
 *
 * @example
 * ```ts
 * import { KvMachine } from "./kv_machine.ts";
 * const m = new KvMachine();
 * const data = new TextEncoder().encode('{"op":1,"f":"write","key":"k","value":3}');
 * m.apply({ term: 1, index: 1, type: "normal", data });
 * console.log(m.read("k")); // 3
 * ```
 */
export class KvMachine {
  values = new Map<string, JsonValue>();
  /** Client operations already applied, with their answers. */
  done = new Map<number, boolean>();
  appliedIndex = 0;

  static restore(data: Uint8Array, index: number): KvMachine {
    const m = new KvMachine();
    const parsed = JSON.parse(new TextDecoder().decode(data));
    m.values = new Map(parsed.values);
    m.done = new Map(parsed.done);
    m.appliedIndex = index;
    return m;
  }

  snapshot(): Uint8Array {
    return new TextEncoder().encode(
      JSON.stringify({ values: [...this.values], done: [...this.done] }),
    );
  }

  read(key: string): JsonValue {
    return this.values.get(key) ?? null;
  }

  /** Applies one committed entry; returns the client answer it carries, if any. */
  apply(e: Entry): SimResult | undefined {
    this.appliedIndex = e.index;
    if (e.type !== "normal" || e.data.length === 0) return undefined;
    const cmd = JSON.parse(new TextDecoder().decode(e.data)) as SimCommand;
    const seen = this.done.get(cmd.op);
    if (seen !== undefined) return { op: cmd.op, ok: seen };
    let ok = true;
    if (cmd.f === "write") {
      this.values.set(cmd.key, cmd.value);
    } else {
      const [expected, next] = cmd.value as [JsonValue, JsonValue];
      ok = this.read(cmd.key) === expected;
      if (ok) this.values.set(cmd.key, next);
    }
    this.done.set(cmd.op, ok);
    return { op: cmd.op, ok };
  }
}
