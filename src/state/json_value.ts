/**
 * JSON values as the state machine stores them: checked strictly (so every node stores exactly
 * what the log says, and a snapshot can always be encoded), and frozen (so a reader holding a
 * value cannot change the replicated state behind the log's back).
 *
 * @module
 */

/**
 * A JSON value: what a config key holds.
 *
 * @example
 * ```ts
 * import type { JsonValue } from "./json_value.ts";
 * const v: JsonValue = { replicas: 3, regions: ["eu", "us"], enabled: true, note: null };
 * ```
 */
export type JsonValue =
  | null
  | boolean
  | number
  | string
  | JsonValue[]
  | { [key: string]: JsonValue };

/**
 * How deeply arrays and objects may nest inside a value. Snapshots wrap values in a few more
 * levels and msgpack refuses to encode beyond a fixed depth, so the bound keeps every accepted
 * value encodable, and it keeps checking free of recursion.
 *
 * @example
 * ```ts
 * import { MAX_VALUE_DEPTH } from "./json_value.ts";
 * console.log(MAX_VALUE_DEPTH); // 64
 * ```
 */
export const MAX_VALUE_DEPTH = 64;

/**
 * Whether a string can travel through msgpack (UTF-8) unchanged: a lone surrogate would be
 * replaced on the way, so the leader and the log would disagree about the string.
 *
 * @example
 * ```ts
 * import { isWellFormedString } from "./json_value.ts";
 * isWellFormedString("ok"); // true
 * isWellFormedString("\ud800"); // false
 * ```
 */
export function isWellFormedString(value: unknown): value is string {
  return typeof value === "string" && value.isWellFormed();
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Checks that `value` is a JSON value that survives a msgpack round trip unchanged. Returns a
 * sentence saying what is wrong, or `undefined` when the value is fine.
 *
 * @example
 * ```ts
 * import { checkJsonValue } from "./json_value.ts";
 * checkJsonValue({ a: [1, "x"] }); // undefined
 * checkJsonValue({ a: NaN }); // "value.a: numbers must be finite"
 * ```
 */
export function checkJsonValue(value: unknown, path = "value"): string | undefined {
  const pending: [unknown, string, number][] = [[value, path, 0]];
  while (pending.length > 0) {
    const [item, where, depth] = pending.pop()!;
    if (item === null || typeof item === "boolean") continue;
    if (typeof item === "number") {
      if (!Number.isFinite(item)) return `${where}: numbers must be finite`;
      continue;
    }
    if (typeof item === "string") {
      if (!item.isWellFormed()) return `${where}: strings must be well-formed UTF-16`;
      continue;
    }
    if (typeof item !== "object") return `${where}: ${typeof item} is not a JSON value`;
    if (depth >= MAX_VALUE_DEPTH) return `${where}: nested deeper than ${MAX_VALUE_DEPTH}`;
    if (Array.isArray(item)) {
      for (let i = 0; i < item.length; i++) pending.push([item[i], `${where}[${i}]`, depth + 1]);
      continue;
    }
    if (!isPlainObject(item)) return `${where}: only plain objects are JSON objects`;
    for (const key of Object.keys(item)) {
      // msgpack's decoder refuses this key, so a value holding it could never be read back.
      if (key === "__proto__") return `${where}: the key "__proto__" is not allowed`;
      if (!key.isWellFormed()) return `${where}: keys must be well-formed UTF-16`;
      pending.push([(item as Record<string, unknown>)[key], `${where}.${key}`, depth + 1]);
    }
  }
  return undefined;
}

/**
 * Freezes a value and everything inside it, so that a value shared between the store, the
 * watch history and readers cannot be changed through any of them. Returns the same value.
 *
 * @example
 * ```ts
 * import { deepFreeze } from "./json_value.ts";
 * const v = deepFreeze({ a: [1] });
 * Object.isFrozen(v.a); // true
 * ```
 */
export function deepFreeze<T>(value: T): T {
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const item = pending.pop();
    if (typeof item !== "object" || item === null || Object.isFrozen(item)) continue;
    Object.freeze(item);
    for (const child of Object.values(item)) pending.push(child);
  }
  return value;
}
