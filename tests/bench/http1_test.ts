import assert from "node:assert/strict";
import { Http1Connection, RequestTimeoutError } from "../../bench/http1_connection.ts";
import { MalformedResponseError, ResponseParser } from "../../bench/http1_response_parser.ts";
import { serveTrivial } from "../../bench/trivial_server.ts";

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
  bad("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n");
  bad("HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort", true);
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
