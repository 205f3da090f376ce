/**
 * History files: one event a line, as JSON (docs/architecture.md#history-files), read back with
 * validation.
 *
 * @module
 */

import type { EventType, HistoryEvent, JsonValue, OperationName } from "./history.ts";

const EVENT_TYPES: ReadonlySet<string> = new Set(
  ["invoke", "ok", "fail", "info"] satisfies EventType[],
);
const OPERATION_NAMES: ReadonlySet<string> = new Set(
  ["read", "write", "cas", "delete", "acquire", "release"] satisfies OperationName[],
);

/**
 * Formats events one JSON object a line, each line ending in `\n`.
 *
 * @example
 * ```ts
 * import { toJsonLines } from "./history_jsonl.ts";
 * const text = toJsonLines([
 *   { process: 1, type: "invoke", f: "read", key: "k1", value: null, time: 0 },
 * ]);
 * ```
 */
export function toJsonLines(events: readonly HistoryEvent[]): string {
  let text = "";
  for (const event of events) {
    const { process, type, f, key, value, time } = event;
    text += JSON.stringify({ process, type, f, key, value, time }) + "\n";
  }
  return text;
}

/**
 * Parses JSON lines into events, validating every field; blank lines are skipped and a missing
 * `value` reads as `null`. Throws a `SyntaxError` naming the line of the first bad event.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseJsonLines } from "./history_jsonl.ts";
 *
 * const [event] = parseJsonLines(
 *   '{"process":1,"type":"ok","f":"read","key":"k1","value":5,"time":9}\n',
 * );
 * assert.equal(event.value, 5);
 * ```
 */
export function parseJsonLines(text: string): HistoryEvent[] {
  const events: HistoryEvent[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === "") continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch (error) {
      throw new SyntaxError(`history line ${i + 1}: ${(error as Error).message}`);
    }
    events.push(validateEvent(parsed, i + 1));
  }
  return events;
}

function validateEvent(parsed: unknown, lineNumber: number): HistoryEvent {
  const bad = (why: string) => new SyntaxError(`history line ${lineNumber}: ${why}`);
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw bad("not a JSON object");
  }
  const raw = parsed as Record<string, unknown>;
  if (!Number.isSafeInteger(raw.process)) throw bad("process must be an integer");
  if (typeof raw.type !== "string" || !EVENT_TYPES.has(raw.type)) {
    throw bad(`unknown type ${JSON.stringify(raw.type)}`);
  }
  if (typeof raw.f !== "string" || !OPERATION_NAMES.has(raw.f)) {
    throw bad(`unknown f ${JSON.stringify(raw.f)}`);
  }
  if (typeof raw.key !== "string") throw bad("key must be a string");
  if (typeof raw.time !== "number" || !Number.isFinite(raw.time)) {
    throw bad("time must be a finite number");
  }
  return {
    process: raw.process as number,
    type: raw.type as EventType,
    f: raw.f as OperationName,
    key: raw.key,
    value: (raw.value ?? null) as JsonValue,
    time: raw.time,
  };
}

/**
 * Writes events to a JSON-lines file (conventionally `history.jsonl`).
 *
 * @example
 * ```ts
 * import { writeHistoryFile } from "./history_jsonl.ts";
 * const dir = await Deno.makeTempDir();
 * await writeHistoryFile(`${dir}/history.jsonl`, []);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeHistoryFile(
  path: string | URL,
  events: readonly HistoryEvent[],
): Promise<void> {
  await Deno.writeTextFile(path, toJsonLines(events));
}

/**
 * Reads and validates a JSON-lines history file.
 *
 * @example
 * ```ts
 * import { readHistoryFile, writeHistoryFile } from "./history_jsonl.ts";
 * const dir = await Deno.makeTempDir();
 * await writeHistoryFile(`${dir}/history.jsonl`, []);
 * const events = await readHistoryFile(`${dir}/history.jsonl`); // []
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function readHistoryFile(path: string | URL): Promise<HistoryEvent[]> {
  return parseJsonLines(await Deno.readTextFile(path));
}
