/**
 * Where the tool connects: endpoints from `--endpoints` or `EDGERAFT_ENDPOINTS` (comma
 * separated client URLs; default the local `deno task cluster`'s three), and the bearer
 * token from `--token` or `EDGERAFT_TOKEN`.
 *
 * @module
 */

import { EdgeraftClient } from "../../client/mod.ts";
import { UsageError } from "./usage_error.ts";

/**
 * The local development cluster's client URLs (`deno task cluster`).
 *
 * @example
 * ```ts
 * import { DEFAULT_ENDPOINTS } from "./connection.ts";
 * DEFAULT_ENDPOINTS[0]; // "http://127.0.0.1:7001"
 * ```
 */
export const DEFAULT_ENDPOINTS = [
  "http://127.0.0.1:7001",
  "http://127.0.0.1:7002",
  "http://127.0.0.1:7003",
] as const;

/**
 * The endpoints and token to use, flags first, then the environment, then the defaults.
 *
 * @example
 * ```ts
 * import { connectionSettings } from "./connection.ts";
 * const s = connectionSettings({ endpoints: "http://a:7001,http://b:7001" }, {});
 * s.endpoints; // ["http://a:7001", "http://b:7001"]
 * ```
 */
export function connectionSettings(
  flags: { endpoints?: string; token?: string },
  env: Record<string, string | undefined>,
): { endpoints: string[]; token?: string } {
  const list = flags.endpoints ?? env.EDGERAFT_ENDPOINTS;
  const endpoints = list === undefined
    ? [...DEFAULT_ENDPOINTS]
    : list.split(",").map((url) => url.trim()).filter((url) => url !== "");
  if (endpoints.length === 0) throw new UsageError("--endpoints names no URL");
  for (const url of endpoints) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new UsageError(`--endpoints: "${url}" is not a URL (e.g. http://127.0.0.1:7001)`);
    }
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
      throw new UsageError(`--endpoints: "${url}" is not an http(s) URL`);
    }
  }
  const token = flags.token ?? env.EDGERAFT_TOKEN;
  return { endpoints, token: token === "" ? undefined : token };
}

/**
 * A client over the settings: it fails over between the endpoints like any client.
 *
 * @example
 * ```ts
 * import { clientFor } from "./connection.ts";
 * clientFor({ endpoints: ["http://127.0.0.1:7001"] }).endpoints.length; // 1
 * ```
 */
export function clientFor(settings: { endpoints: string[]; token?: string }): EdgeraftClient {
  return new EdgeraftClient({ endpoints: settings.endpoints, token: settings.token });
}
