/**
 * Reads the API tokens file: a JSON array of tokens and their scopes (see docs/api.md).
 *
 * @module
 */

import type { TokenConfig } from "../api/mod.ts";

/**
 * Loads and checks the tokens file; throws an Error whose message names the problem.
 *
 * @example
 * ```ts ignore
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
  if (!Array.isArray(parsed) || parsed.length === 0) {
    throw new Error(`the tokens file ${path} must hold a non-empty JSON array`);
  }
  return parsed as TokenConfig[];
}
