/**
 * Structured logs: one JSON object a line when stderr is not a terminal (for collectors), a
 * short readable line when it is.
 *
 * @module
 */

/** How bad an event is. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** Where log lines go. */
export interface Logger {
  log(level: LogLevel, event: string, fields?: Record<string, unknown>): void;
}

/**
 * A logger writing to stderr, as JSON lines or as pretty text.
 *
 * @example
 * ```ts
 * import { createLogger } from "./logger.ts";
 * const log = createLogger({ nodeId: 1, format: "json" });
 * log.log("info", "leader elected", { term: 3 });
 * ```
 */
export function createLogger(
  opts: { nodeId: number; format?: "json" | "pretty"; minLevel?: LogLevel },
): Logger {
  const format = opts.format ?? (Deno.stderr.isTerminal() ? "pretty" : "json");
  const order: LogLevel[] = ["debug", "info", "warn", "error"];
  const min = order.indexOf(opts.minLevel ?? "info");
  const encoder = new TextEncoder();
  return {
    log(level, event, fields = {}) {
      if (order.indexOf(level) < min) return;
      const time = new Date().toISOString();
      const line = format === "json"
        ? JSON.stringify({ time, level, node: opts.nodeId, event, ...fields })
        : `${time.slice(11, 23)} ${level.padEnd(5)} ${event}${
          Object.keys(fields).length ? " " + JSON.stringify(fields) : ""
        }`;
      Deno.stderr.writeSync(encoder.encode(line + "\n"));
    },
  };
}

/**
 * A logger that keeps lines in memory, for tests.
 *
 * @example
 * ```ts
 * import { memoryLogger } from "./logger.ts";
 * const log = memoryLogger();
 * log.log("warn", "peer down", { peer: 2 });
 * console.log(log.lines.length); // 1
 * ```
 */
export function memoryLogger(): Logger & { lines: { level: LogLevel; event: string }[] } {
  const lines: { level: LogLevel; event: string }[] = [];
  return { lines, log: (level, event) => lines.push({ level, event }) };
}
