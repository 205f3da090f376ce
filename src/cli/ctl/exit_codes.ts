/**
 * The exit codes of `edgeraft`, and which one an error gets.
 *
 * @module
 */

import {
  EdgeraftError,
  LockHeldError,
  NetworkError,
  OutcomeUnknownError,
  UnavailableError,
} from "../../client/mod.ts";
import { UsageError } from "./usage_error.ts";

/**
 * 0 done; 1 refused by the cluster (a 4xx such as 404, 409, 412, 401); 2 a usage mistake;
 * 3 the cluster could not be reached or had no leader, or a write's outcome is unknown;
 * 4 `run-locked` stopped its command because the lease could no longer be trusted; 130 a
 * wait cut short by Ctrl-C. `run-locked` otherwise exits with its command's code.
 *
 * @example
 * ```ts
 * import { EXIT } from "./exit_codes.ts";
 * EXIT.unreachable; // 3
 * ```
 */
export const EXIT = {
  ok: 0,
  refused: 1,
  usage: 2,
  unreachable: 3,
  leaseLost: 4,
  interrupted: 130,
} as const;

/**
 * The exit code for an error a command threw.
 *
 * @example
 * ```ts
 * import { exitCodeFor } from "./exit_codes.ts";
 * import { UsageError } from "./usage_error.ts";
 * exitCodeFor(new UsageError("no command")); // 2
 * ```
 */
export function exitCodeFor(error: unknown): number {
  if (error instanceof UsageError) return EXIT.usage;
  if (error instanceof UnavailableError || error instanceof OutcomeUnknownError) {
    return EXIT.unreachable;
  }
  if (error instanceof EdgeraftError && error.status === 0) return EXIT.unreachable;
  return EXIT.refused;
}

/**
 * The one stderr line for an error: the problem's title and detail when the server sent one.
 *
 * @example
 * ```ts
 * import { EdgeraftError } from "../../client/mod.ts";
 * import { errorLine } from "./exit_codes.ts";
 * errorLine(new EdgeraftError(412, { title: "Precondition failed", detail: "at 7" }));
 * // "edgeraft: Precondition failed: at 7"
 * ```
 */
export function errorLine(error: unknown): string {
  if (error instanceof NetworkError) {
    // fetch's message nests the reason at the end: "... tcp connect error: Connection refused".
    let innermost: unknown = error;
    while (innermost instanceof Error && innermost.cause !== undefined) innermost = innermost.cause;
    const reason = (innermost instanceof Error ? innermost.message : String(innermost))
      .split(": ").pop();
    return `edgeraft: no endpoint answered (last tried ${new URL(error.url).origin}: ${reason})`;
  }
  if (error instanceof EdgeraftError) {
    const { title, detail } = error.problem;
    const said = typeof detail === "string" && detail ? detail : error.message;
    // The server's detail often repeats its title ("the token does not hold the lock x"): say
    // it once.
    const repeats = typeof title === "string" && said.toLowerCase().startsWith(title.toLowerCase());
    let line = typeof title === "string" && title && !repeats ? `${title}: ${said}` : said;
    if (error instanceof LockHeldError && error.holder) {
      const { token, owner, expiresAt } = error.holder;
      const until = new Date(expiresAt).toISOString();
      line += ` (held by ${owner || "?"} with token ${token} until ${until})`;
    }
    return `edgeraft: ${line.replaceAll("\n", " ")}`;
  }
  const message = error instanceof Error ? error.message : String(error);
  return `edgeraft: ${message.replaceAll("\n", " ")}`;
}
