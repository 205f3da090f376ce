/**
 * Reads the API tokens file (`--tokens-file`, `EDGERAFT_TOKENS_FILE`): a JSON array with one
 * object per token, `{ "token", "scopes", "name"?, "keyPrefixes"?, "lockPrefixes"? }` (see
 * docs/api.md, "Authentication", for what each field means and an example).
 *
 * @module
 */

import type { TokenConfig } from "../api/mod.ts";
import { bearerAuth } from "../api/middleware/auth/auth.ts";

/** The fields a token may have; any other is refused (a typo must not widen a token). */
const FIELDS: ReadonlySet<string> = new Set([
  "token",
  "name",
  "scopes",
  "keyPrefixes",
  "lockPrefixes",
]);

/**
 * Checks the parsed contents of a tokens file, with the same rules the API applies to its
 * tokens, and returns them; throws an Error whose message names the file, the entry and the
 * problem. A misspelt field is refused rather than ignored: `"keyPrefix"` ignored would leave
 * the token unlimited.
 *
 * @example
 * ```ts
 * import { parseTokens } from "./tokens_file.ts";
 * const tokens = parseTokens([{ token: "a-long-random-token", scopes: ["read"] }], "tokens.json");
 * console.log(tokens.length); // 1
 * ```
 */
export function parseTokens(parsed: unknown, path: string): TokenConfig[] {
  if (!Array.isArray(parsed) || parsed.length === 0) {
    throw new Error(`the tokens file ${path} must hold a non-empty JSON array`);
  }
  parsed.forEach((entry, i) => {
    if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
      throw new Error(`the tokens file ${path}: tokens[${i}] must be an object`);
    }
    const unknown = Object.keys(entry).filter((field) => !FIELDS.has(field));
    if (unknown.length > 0) {
      throw new Error(
        `the tokens file ${path}: tokens[${i}] has unknown field ${unknown.join(", ")} ` +
          `(known: ${[...FIELDS].join(", ")})`,
      );
    }
  });
  try {
    bearerAuth(parsed as TokenConfig[]); // the API's own checks, so that a node starts with none
  } catch (e) {
    throw new Error(`the tokens file ${path}: ${(e as Error).message}`);
  }
  return parsed as TokenConfig[];
}

/**
 * Loads and checks the tokens file; throws an Error whose message names the problem.
 *
 * @example
 * ```ts ignore
 * import { loadTokens } from "./tokens_file.ts";
 * const tokens = await loadTokens("./tokens.json");
 * ```
 */
export async function loadTokens(path: string): Promise<TokenConfig[]> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await Deno.readTextFile(path));
  } catch (e) {
    throw new Error(`cannot read the tokens file ${path}: ${(e as Error).message}`);
  }
  return parseTokens(parsed, path);
}
