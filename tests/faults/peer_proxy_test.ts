/**
 * The per-destination peer proxy on real loopback sockets: it tells senders apart by the
 * `x-edgeraft-from` header of their first request, cuts one sender (drop or stall) while the
 * others go on, and lets everyone through again once healed.
 */

import assert from "node:assert/strict";
import { PeerProxy } from "./peer_proxy.ts";

/** An HTTP server that answers every request with the sender it names. */
function whoServer(): Deno.HttpServer & { port: number } {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (req) => new Response(`hello ${req.headers.get("x-edgeraft-from") ?? "nobody"}`),
  );
  return Object.assign(server, { port: server.addr.port });
}

async function ask(port: number, from: number, timeoutMs = 1500): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/raft/v1/messages`, {
    headers: { "x-edgeraft-from": String(from) },
    signal: AbortSignal.timeout(timeoutMs),
  });
  return await res.text();
}

Deno.test("peer proxy: cuts one sender, by drop or stall, and the others go on", async () => {
  const server = whoServer();
  const proxy = PeerProxy.start({ hostname: "127.0.0.1", port: server.port });
  try {
    assert.equal(await ask(proxy.port, 1), "hello 1");
    proxy.block(1, "drop");
    await assert.rejects(ask(proxy.port, 1));
    assert.equal(await ask(proxy.port, 2), "hello 2");
    proxy.unblockAll();
    assert.equal(await ask(proxy.port, 1, 5000), "hello 1");
    proxy.block(2, "stall");
    const stalled = ask(proxy.port, 2, 10_000);
    let settled = false;
    void stalled.finally(() => settled = true).catch(() => {});
    assert.equal(await ask(proxy.port, 3), "hello 3");
    assert.equal(settled, false, "a stalled sender's request went through");
    proxy.unblockAll();
    assert.equal(await stalled, "hello 2");
  } finally {
    proxy.close();
    await server.shutdown();
  }
});
