/**
 * Aligned plain-text tables for people (scripts use `--json`).
 *
 * @module
 */

/**
 * Rows under a header, each column as wide as its widest cell, two spaces apart; the last
 * column is not padded.
 *
 * @example
 * ```ts
 * import { formatTable } from "./table.ts";
 * formatTable(["KEY", "REV"], [["a", "1"], ["bb", "12"]]);
 * // "KEY  REV\na    1\nbb   12"
 * ```
 */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]) {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((row) => (row[i] ?? "").length)));
  return all.map((row) =>
    row.map((cell, i) => i === row.length - 1 ? cell : cell.padEnd(widths[i])).join("  ")
      .trimEnd()
  ).join("\n");
}

/**
 * A value as one line: strings as they are, anything else as compact JSON.
 *
 * @example
 * ```ts
 * import { plainValue } from "./table.ts";
 * plainValue("on"); // "on"
 * plainValue({ a: 1 }); // '{"a":1}'
 * ```
 */
export function plainValue(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}
