/**
 * The fault proxy on real loopback sockets: it forwards, a dropping block resets connections
 * and refuses new ones, and a stalling block holds bytes back until it is lifted.
 */

import assert from "node:assert/strict";
import { TcpProxy } from "./tcp_proxy.ts";

/** An echo server on a free port; returns its port and a function that stops it. */
function echoServer(): { port: number; close: () => void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  (async () => {
    for await (const conn of listener) {
      conns.add(conn);
      conn.readable.pipeTo(conn.writable).catch(() => {}).finally(() => conns.delete(conn));
    }
  })().catch(() => {});
  return {
    port: listener.addr.port,
    close: () => {
      listener.close();
      for (const conn of conns) {
        try {
          conn.close();
        } catch {
          // already closed
        }
      }
    },
  };
}

/** Writes `text` and reads until as many bytes came back, or rejects after `timeoutMs`. */
async function roundTrip(conn: Deno.Conn, text: string, timeoutMs = 2000): Promise<string> {
  const bytes = new TextEncoder().encode(text);
  await conn.write(bytes);
  const received = new Uint8Array(bytes.length);
  let got = 0;
  const deadline = AbortSignal.timeout(timeoutMs);
  while (got < bytes.length) {
    const chunk = new Uint8Array(bytes.length - got);
    const n = await Promise.race([
      conn.read(chunk),
      new Promise<never>((_, reject) =>
        deadline.addEventListener("abort", () => reject(new Error("timed out")), { once: true })
      ),
    ]);
    if (n === null) throw new Error("closed");
    received.set(chunk.subarray(0, n), got);
    got += n;
  }
  return new TextDecoder().decode(received);
}

Deno.test("tcp proxy: forwards both ways, and a dropping block resets and refuses", async () => {
  const echo = echoServer();
  const proxy = await TcpProxy.start({ hostname: "127.0.0.1", port: echo.port });
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
    assert.equal(await roundTrip(conn, "hello"), "hello");
    proxy.block("drop");
    await assert.rejects(roundTrip(conn, "again"));
    conn.close();
    const refused = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
    await assert.rejects(roundTrip(refused, "x"));
    refused.close();
    proxy.unblock();
    const healed = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
    assert.equal(await roundTrip(healed, "back"), "back");
    healed.close();
  } finally {
    proxy.close();
    echo.close();
  }
});

Deno.test("tcp proxy: a stalling block holds bytes back and delivers them once lifted", async () => {
  const echo = echoServer();
  const proxy = await TcpProxy.start({ hostname: "127.0.0.1", port: echo.port });
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
    assert.equal(await roundTrip(conn, "one"), "one");
    proxy.block("stall");
    await conn.write(new TextEncoder().encode("two"));
    const buffer = new Uint8Array(16);
    const pending = conn.read(buffer);
    const early = await Promise.race([
      pending.then(() => "arrived"),
      new Promise((resolve) => setTimeout(() => resolve("held"), 300)),
    ]);
    assert.equal(early, "held");
    proxy.unblock();
    const n = await pending;
    assert.equal(new TextDecoder().decode(buffer.subarray(0, n ?? 0)), "two");
    conn.close();
  } finally {
    proxy.close();
    echo.close();
  }
});
