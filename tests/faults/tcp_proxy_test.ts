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

Deno.test("tcp proxy: a delay holds each direction back, changes on open connections, keeps order", async () => {
  const echo = echoServer();
  const proxy = await TcpProxy.start({ hostname: "127.0.0.1", port: echo.port });
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
    assert.equal(await roundTrip(conn, "warm"), "warm");
    proxy.setDelay(40, 20);
    assert.deepEqual(proxy.delay, { forwardMs: 40, backwardMs: 20 });
    let started = performance.now();
    assert.equal(await roundTrip(conn, "slow"), "slow");
    const slow = performance.now() - started;
    assert.ok(slow >= 58 && slow < 1000, `a 60 ms round trip took ${slow} ms`);
    // Many small writes in a row arrive whole and in order.
    const text = Array.from({ length: 50 }, (_, i) => `<${i}>`).join("");
    const sent = (async () => {
      for (let i = 0; i < 50; i++) await conn.write(new TextEncoder().encode(`<${i}>`));
    })();
    const back = new Uint8Array(text.length);
    let got = 0;
    while (got < back.length) got += (await conn.read(back.subarray(got))) ?? 0;
    await sent;
    assert.equal(new TextDecoder().decode(back), text);
    proxy.setDelay(0);
    started = performance.now();
    assert.equal(await roundTrip(conn, "fast"), "fast");
    assert.ok(performance.now() - started < 40, "the delay is off again");
    conn.close();
  } finally {
    proxy.close();
    echo.close();
  }
});
