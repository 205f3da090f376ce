/**
 * Loopback helpers shared by everything that starts real servers in tests and benchmarks.
 *
 * @module
 */

/**
 * A TCP port on 127.0.0.1 that was free a moment ago.
 *
 * @example
 * ```ts
 * import { freePort } from "./net.ts";
 * freePort() > 0; // true
 * ```
 */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return port;
}

/**
 * GET (or POST, with a body) a JSON endpoint with a deadline; undefined on any failure, since
 * a member that is down or not ready is normal while a test waits for it.
 *
 * @example
 * ```ts ignore
 * import { jsonOrUndefined } from "./net.ts";
 * const status = await jsonOrUndefined("http://127.0.0.1:7001/v1/cluster");
 * ```
 */
export async function jsonOrUndefined(
  url: string,
  postBody?: unknown,
  timeoutMs = 1000,
): Promise<unknown> {
  try {
    const res = await fetch(url, {
      method: postBody === undefined ? "GET" : "POST",
      body: postBody === undefined ? undefined : JSON.stringify(postBody),
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!res.ok) {
      await res.body?.cancel();
      return undefined;
    }
    return await res.json();
  } catch {
    return undefined;
  }
}
