/**
 * Which HTTP client should the load generator use? Each kind (`raw` keep-alive HTTP/1.1 over
 * `Deno.connect`, Deno's `fetch`, `node:http` with a keep-alive agent) sends the config put
 * request to a trivial server in another process, at 1 and 64 clients; the table shows the
 * requests per second reached and the generator's CPU per request.
 *
 * Run: `deno run --allow-all bench/http_client_cost.ts [seconds per measurement, default 3]`.
 *
 * @module
 */

import { measureGeneratorCeiling } from "./generator_ceiling.ts";
import { HTTP_CLIENT_KINDS } from "./http_clients.ts";
import { spawnTrivialServer } from "./trivial_server.ts";

if (import.meta.main) {
  const seconds = Number(Deno.args[0] ?? 3);
  const server = await spawnTrivialServer();
  try {
    console.log("client  clients  requests/s  CPU µs/request  p50 ms");
    for (const clients of [1, 64]) {
      for (const kind of HTTP_CLIENT_KINDS) {
        const c = await measureGeneratorCeiling(server.origin, {
          clients,
          durationMs: seconds * 1000,
          httpClient: kind,
        });
        console.log(
          `${kind.padEnd(6)}  ${String(clients).padStart(7)}  ${
            Math.round(c.opsPerSec).toString().padStart(10)
          }  ${(c.cpuUsPerOp?.toFixed(1) ?? "?").padStart(14)}  ${c.p50Ms.toFixed(3).padStart(6)}`,
        );
      }
    }
  } finally {
    await server.stop();
  }
}
