import assert from "node:assert/strict";
import { Http1Connection, RequestTimeoutError } from "../../bench/http1_connection.ts";
import { MalformedResponseError, ResponseParser } from "../../bench/http1_response_parser.ts";
import { serveTrivial } from "../../bench/trivial_server.ts";
import { Prng } from "../checker/prng.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

Deno.test("parser: a response split anywhere, then the next one on the same connection", () => {
  const wire = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Leader: a\r\n\r\nhello" +
    "HTTP/1.1 404 Not Found\r\ncontent-length: 2\r\nconnection: close\r\n\r\nno";
  for (let cut = 1; cut < wire.length; cut += 7) {
    const p = new ResponseParser();
    p.push(bytes(wire.slice(0, cut)));
    const got = [];
    for (let r = p.next(); r; r = p.next()) got.push(r);
    p.push(bytes(wire.slice(cut)));
    for (let r = p.next(); r; r = p.next()) got.push(r);
    assert.deepEqual(got.map((r) => [r.status, text(r.body), r.close]), [
      [200, "hello", false],
      [404, "no", true],
    ]);
    assert.equal(got[0].headers.get("x-leader"), "a");
    assert.equal(p.buffered, 0);
  }
});

Deno.test("parser: chunked bodies with extensions and trailers", () => {
  const p = new ResponseParser();
  p.push(bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\nabcd\r\n"));
  assert.equal(p.next(), undefined);
  p.push(bytes("a\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n"));
  const r = p.next();
  assert.equal(text(r!.body), "abcd0123456789");
  assert.equal(p.buffered, 0);
});

Deno.test("parser: 204 and 304 have no body; no framing means until the end", () => {
  const p = new ResponseParser();
  p.push(bytes('HTTP/1.1 304 Not Modified\r\nETag: "3"\r\n\r\nHTTP/1.1 200 OK\r\n\r\nto the end'));
  assert.equal(p.next()?.status, 304);
  assert.equal(p.next(), undefined);
  p.end();
  assert.equal(text(p.next()!.body), "to the end");
});

Deno.test("parser: malformed responses and truncated connections throw", () => {
  const bad = (wire: string, end = false) => {
    const p = new ResponseParser();
    p.push(bytes(wire));
    if (end) p.end();
    assert.throws(() => p.next(), MalformedResponseError);
  };
  bad("SSH-2.0-OpenSSH\r\n\r\n");
  bad("HTTP/1.1 200 OK\r\nno colon here\r\n\r\n");
  bad("HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n");
  bad("HTTP/1.1 200 OK\r\ncontent-length: 1 2\r\n\r\n");
  bad("HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n");
  bad("HTTP/1.1 20x OK\r\n\r\n");
  bad("HTTP/1.2 200 OK\r\n\r\n");
  bad("HTTP/1.1 200 OK\r\n: no name\r\n\r\n");
  bad("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n");
  bad("HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort", true);
});

/** One response as a server might write it, and what the parser must make of it. */
function randomResponse(
  rng: Prng,
): { wire: string; status: number; body: string; close: boolean; headers: Map<string, string> } {
  const anyCase = (name: string) =>
    [...name].map((c) => rng.chance(0.3) ? c.toUpperCase() : c).join("");
  const spaces = () => " ".repeat(rng.int(3));
  const status = rng.pick([200, 201, 204, 304, 404, 409, 503]);
  const noBody = status === 204 || status === 304;
  const body = noBody ? "" : "xyz{}:\r\n ".repeat(rng.int(40)).slice(0, rng.int(300));
  const chunked = !noBody && rng.chance(0.3);
  const fields: [string, string][] = [];
  const close = rng.chance(0.2);
  if (close) fields.push(["connection", "close"]);
  else if (rng.chance(0.3)) fields.push(["connection", "keep-alive"]);
  // Names one letter off the framing headers must not be taken for them.
  for (let i = rng.int(4); i > 0; i--) {
    fields.push([
      rng.pick(["x-leader", "content-type", "x-content-length", "connections"]),
      `v${rng.int(9)}`,
    ]);
  }
  if (chunked) fields.push(["transfer-encoding", "chunked"]);
  else if (!noBody) fields.push(["content-length", String(new TextEncoder().encode(body).length)]);
  fields.sort(() => rng.next() - 0.5);
  let wire = `HTTP/1.${rng.int(2)} ${status} Whatever\r\n`;
  const headers = new Map<string, string>();
  for (const [name, value] of fields) {
    wire += `${anyCase(name)}:${spaces()}${value}${spaces()}\r\n`;
    headers.set(name, value);
  }
  wire += "\r\n";
  if (chunked) {
    for (let at = 0; at < body.length;) {
      const size = 1 + rng.int(50);
      const part = body.slice(at, at + size);
      wire += `${part.length.toString(16)}${rng.chance(0.2) ? ";ext=1" : ""}\r\n${part}\r\n`;
      at += size;
    }
    wire += "0\r\n\r\n";
  } else {
    wire += body;
  }
  return { wire, status, body, close, headers };
}

Deno.test("parser: 2,000 random responses (case, spaces, framing, look-alike names) read as written", () => {
  const rng = new Prng(16);
  for (let round = 0; round < 200; round++) {
    const responses = Array.from({ length: 10 }, () => randomResponse(rng));
    const wire = bytes(responses.map((r) => r.wire).join(""));
    const p = new ResponseParser();
    const got = [];
    for (let at = 0; at < wire.length;) {
      const cut = at + 1 + rng.int(200);
      p.push(wire.subarray(at, cut));
      at = cut;
      for (let r = p.next(); r; r = p.next()) got.push(r);
    }
    assert.deepEqual(
      got.map((r) => ({
        status: r.status,
        body: text(r.body),
        close: r.close,
        headers: r.headers,
      })),
      responses.map(({ status, body, close, headers }) => ({ status, body, close, headers })),
    );
    assert.equal(p.buffered, 0);
  }
});

Deno.test("connection: requests on one kept-alive connection to a real server", async () => {
  const server = serveTrivial();
  const c = await Http1Connection.open(`http://127.0.0.1:${server.addr.port}`);
  try {
    for (let i = 0; i < 20; i++) {
      const answer = await c.request({ method: "PUT", path: "/x", body: `"${"é".repeat(i)}"` });
      assert.deepEqual(answer, { status: 200, body: '{"ok":true}' });
    }
    assert.equal((await c.request({ method: "GET", path: "/x" })).status, 200);
    assert.ok(c.usable);
  } finally {
    c.close();
    await server.shutdown();
  }
});

Deno.test("connection: no answer within timeoutMs closes it and says so", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  const c = await Http1Connection.open(`http://127.0.0.1:${listener.addr.port}`);
  const silent = await accepted;
  try {
    await assert.rejects(
      c.request({ method: "GET", path: "/", timeoutMs: 50 }),
      RequestTimeoutError,
    );
    assert.equal(c.usable, false);
  } finally {
    silent.close();
    listener.close();
  }
});

Deno.test("connection: one timer serves requests with longer and shorter timeouts", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  const c = await Http1Connection.open(`http://127.0.0.1:${listener.addr.port}`);
  const server = await accepted;
  const buf = new Uint8Array(4096);
  const answer = async (afterMs: number) => {
    await server.read(buf);
    await new Promise((resolve) => setTimeout(resolve, afterMs));
    await server.write(bytes("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"));
  };
  try {
    // The timer armed for the first request fires while the second, with a later deadline, is
    // still in time: it must wait on, not close the connection.
    const first = answer(0);
    assert.equal((await c.request({ method: "GET", path: "/", timeoutMs: 40 })).body, "ok");
    await first;
    const second = answer(120);
    assert.equal((await c.request({ method: "GET", path: "/", timeoutMs: 2000 })).body, "ok");
    await second;
    // A shorter deadline than the armed timer's must still be kept.
    const began = performance.now();
    const silent = server.read(buf);
    await assert.rejects(
      c.request({ method: "GET", path: "/", timeoutMs: 50 }),
      RequestTimeoutError,
    );
    await silent;
    assert.ok(performance.now() - began < 1000, "timed out at the shorter deadline");
    assert.equal(c.usable, false);
  } finally {
    c.close();
    server.close();
    listener.close();
  }
});
