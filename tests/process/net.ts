/**
 * Loopback helpers shared by everything that starts real servers in tests and benchmarks.
 *
 * @module
 */

/** Below Linux's ephemeral range (32768-60999), which outgoing connections draw from. */
const FIRST_PORT = 20_000;
const PORTS = 12_000;

/**
 * A TCP port on 127.0.0.1 that was free a moment ago, for a server started soon after.
 *
 * Picked at random below the ephemeral range: a port taken with `port: 0` comes from the range
 * every outgoing connection of every process on the machine draws from, and parallel tests
 * open many, so one of them could take it between this check and the server's bind (seen:
 * "peer address ... is in use"). Random picks keep parallel tests apart from each other.
 *
 * @example
 * ```ts
 * import { freePort } from "./net.ts";
 * freePort() > 0; // true
 * ```
 */
export function freePort(): number {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = FIRST_PORT + Math.floor(Math.random() * PORTS);
    // A port handed out before is free until its server binds: two random picks for one
    // cluster once met (node 1's peer port was node 2's client port, seed 10 of the faults test).
    if (handedOut.has(port)) continue;
    try {
      Deno.listen({ hostname: "127.0.0.1", port }).close();
      handedOut.add(port);
      return port;
    } catch {
      // taken: try another
    }
  }
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return port;
}

/** Every port `freePort` returned in this process: it never returns one twice. */
const handedOut = new Set<number>();

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

/**
 * Writes config `key` through the node at `url` and throws unless it answers 200, naming the
 * status and the body (a test that writes setup data needs each write to have taken effect).
 *
 * @example
 * ```ts ignore
 * import { putConfig } from "./net.ts";
 * await putConfig("http://127.0.0.1:7001", "app/a", { n: 1 });
 * ```
 */
export async function putConfig(
  url: string,
  key: string,
  value: unknown,
  timeoutMs = 5000,
): Promise<void> {
  const res = await fetch(`${url}/v1/config/${key}`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(value),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`PUT ${key}: ${res.status} ${text}`);
}
