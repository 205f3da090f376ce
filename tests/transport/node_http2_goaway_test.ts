/**
 * Evidence for the default client of `PeerTransport`: in Deno 2.9.6 the `node:http2` client
 * can abort (nghttp2 assertion) or segfault when the server sends GOAWAY after a few hundred
 * streams on one session, which is what `Deno.serve`'s graceful `shutdown()` does
 * (denoland/deno#36788). The child process below does exactly that, a few times.
 *
 * Opt-in, because it fails on the Deno this project pins: run it with
 * `EDGERAFT_CHECK_DENO_36788=1 deno test -A tests/transport/node_http2_goaway_test.ts`.
 * When it passes on a newer Deno, `node-http2` can become the default client again.
 *
 * @module
 */

import assert from "node:assert/strict";

const CHILD = `
import http2 from "node:http2";
for (let round = 0; round < 5; round++) {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    await req.arrayBuffer();
    return new Response(null, { status: 204 });
  });
  const session = http2.connect("http://127.0.0.1:" + server.addr.port);
  session.on("error", () => {});
  for (let i = 0; i < 300; i++) {
    await new Promise((resolve, reject) => {
      const req = session.request({ ":method": "POST", ":path": "/" });
      req.on("error", reject);
      req.on("end", resolve);
      req.resume();
      req.end(new Uint8Array(22000));
    });
  }
  await server.shutdown(); // GOAWAY to a session that carried 300 streams
  if (!session.destroyed) session.destroy();
}
`;

Deno.test({
  name: "node:http2 client survives a server's GOAWAY (denoland/deno#36788)",
  ignore: Deno.env.get("EDGERAFT_CHECK_DENO_36788") !== "1",
  async fn() {
    const { code, signal } = await new Deno.Command(Deno.execPath(), {
      args: ["eval", CHILD],
      stdout: "null",
      stderr: "null",
      signal: AbortSignal.timeout(60_000),
    }).output();
    assert.deepStrictEqual({ code, signal }, { code: 0, signal: null });
  },
});
