/**
 * The client port's connection layer (src/api/http_front.ts) against a real server on
 * loopback, over raw sockets: header floods get 431, slow heads 408, idle and slow
 * connections are closed within their timeouts, and ordinary traffic (keep-alive,
 * pipelining, chunked bodies, long polls whose client leaves) goes through unchanged. The
 * layer is the HTTP/1.1 server itself, so what `Deno.serve` did for free is checked here too:
 * `Date`, `100 Continue`, HTTP/1.0, bodies on GET, a handler that throws, streamed answers.
 *
 * @module
 */

import assert from "node:assert/strict";
import { resolveConnectionLimits, serveClientPort } from "../../src/api/http_front.ts";
import { isStaticBody } from "../../src/api/http1_answer.ts";
import { freePort } from "../process/net.ts";
import { poll } from "../process/poll.ts";
import { makeApp } from "./harness.ts";
import { parseAnswer, RawConnection, rawRequest, wholeAnswer } from "./raw_http.ts";

/** A real server over the app on a fake node; `handler` overrides the app when given. */
async function serve(
  limits: Parameters<typeof resolveConnectionLimits>[0] = {},
  handler?: Deno.ServeHandler,
) {
  const { app, node } = makeApp();
  const port = freePort();
  const server = await serveClientPort(
    { hostname: "127.0.0.1", port, limits },
    handler ?? ((req, info) => app.fetch(req, info)),
  );
  return { server, port, node };
}

function assertProblem(
  answer: { status: number; headers: Map<string, string>; json: Record<string, string> },
  status: number,
  type: string,
) {
  assert.equal(answer.status, status, JSON.stringify(answer.json));
  assert.equal(answer.headers.get("content-type"), "application/problem+json");
  assert.equal(answer.json.type, `urn:edgeraft:problem:${type}`);
  assert.equal(answer.json.status, status);
  assert.ok(answer.json.detail.length > 0);
}

const GET = (path: string, extra = "") => `GET ${path} HTTP/1.1\r\nHost: x\r\n${extra}\r\n`;

Deno.test("500 header lines: 431 problem+json naming maxHeaders, then close", async () => {
  const { server, port } = await serve();
  try {
    let head = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
    for (let i = 0; i < 500; i++) head += `X-H${i}: v\r\n`;
    const answer = await rawRequest(port, head + "\r\n");
    assertProblem(answer, 431, "limit-exceeded");
    assert.equal(answer.json.limit, "maxHeaders");
    assert.equal(answer.headers.get("connection"), "close");
    // 100 header lines (the limit) still pass.
    let ok = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
    for (let i = 0; i < 99; i++) ok += `X-H${i}: v\r\n`;
    assert.equal((await rawRequest(port, ok + "\r\n")).status, 200);
  } finally {
    await server.shutdown();
  }
});

Deno.test("one 100 KB header: 431 problem+json naming maxHeaderBytes", async () => {
  const { server, port } = await serve();
  try {
    const answer = await rawRequest(port, GET("/healthz", `X-Big: ${"a".repeat(100_000)}\r\n`));
    assertProblem(answer, 431, "limit-exceeded");
    assert.equal(answer.json.limit, "maxHeaderBytes");
    assert.match(answer.json.detail, /16384/);
  } finally {
    await server.shutdown();
  }
});

Deno.test("a slowloris head (a byte a second) gets 408 and is closed within headerTimeoutMs", async () => {
  const headerTimeoutMs = 2500;
  const { server, port } = await serve({ headerTimeoutMs });
  const c = await RawConnection.open(port);
  try {
    const started = Date.now();
    const line = "GET /healthz HTTP/1.1\r\nX-Slow: " + "a".repeat(100);
    for (let i = 0; i < line.length && !c.closed; i++) {
      if (!await c.send(line[i])) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    await c.waitClosed(headerTimeoutMs + 2000);
    const closedAfter = c.closedAt! - started;
    assert.ok(closedAfter >= headerTimeoutMs - 50, `closed after ${closedAfter} ms`);
    assert.ok(closedAfter < headerTimeoutMs + 1500, `closed after ${closedAfter} ms`);
    const answer = parseAnswer(c.text);
    assertProblem(answer, 408, "request-timeout");
    assert.equal(answer.json.limit, "headerTimeoutMs");
  } finally {
    await c.dispose();
    await server.shutdown();
  }
});

Deno.test("an idle connection is closed within idleTimeoutMs, before and after a request", async () => {
  const idleTimeoutMs = 1500;
  const { server, port } = await serve({ idleTimeoutMs });
  const silent = await RawConnection.open(port);
  const kept = await RawConnection.open(port);
  try {
    const started = Date.now();
    await kept.send(GET("/healthz"));
    await kept.until(wholeAnswer, 5000);
    assert.equal(parseAnswer(kept.text).status, 200);
    const answered = Date.now();
    await silent.waitClosed(idleTimeoutMs + 1500);
    await kept.waitClosed(idleTimeoutMs + 1500);
    assert.equal(silent.text, "", "an idle connection is closed without a word");
    assert.ok(silent.closedAt! - started >= idleTimeoutMs - 50);
    assert.ok(kept.closedAt! - answered >= idleTimeoutMs - 50);
    assert.ok(kept.closedAt! - answered < idleTimeoutMs + 1000);
  } finally {
    await silent.dispose();
    await kept.dispose();
    await server.shutdown();
  }
});

Deno.test("300 slow connections are all closed by their timeouts; the port serves meanwhile", async () => {
  const { server, port } = await serve({ headerTimeoutMs: 1500, idleTimeoutMs: 1500 });
  const slow: RawConnection[] = [];
  try {
    for (let i = 0; i < 300; i++) {
      const c = await RawConnection.open(port);
      // Half start a head and stall, half send nothing.
      if (i % 2 === 0) await c.send("GET /healthz HTTP/1.1\r\nHost: x\r\n");
      slow.push(c);
    }
    await poll(async () => (await server.connections()) >= 300 || undefined, {
      what: "300 connections open",
      timeoutMs: 5000,
    });
    assert.equal((await rawRequest(port, GET("/healthz", "Connection: close\r\n"))).status, 200);
    await poll(() => slow.every((c) => c.closed) || undefined, {
      what: "every slow connection closed",
      timeoutMs: 6000,
    });
    await poll(async () => (await server.connections()) === 0 || undefined, {
      what: "no connection left",
      timeoutMs: 2000,
    });
    for (const [i, c] of slow.entries()) {
      if (i % 2 === 0) assert.equal(parseAnswer(c.text).status, 408);
      else assert.equal(c.text, "");
    }
  } finally {
    await Promise.all(slow.map((c) => c.dispose()));
    await server.shutdown();
  }
});

Deno.test("a body that does not arrive within bodyTimeoutMs gets 408", async () => {
  const { server, port } = await serve({ bodyTimeoutMs: 1500 });
  const c = await RawConnection.open(port);
  try {
    await c.send(
      "PUT /v1/config/a HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n" +
        "content-length: 100\r\n\r\n[1,",
    );
    await c.waitClosed(4000);
    const answer = parseAnswer(c.text);
    assertProblem(answer, 408, "request-timeout");
    assert.equal(answer.json.limit, "bodyTimeoutMs");
  } finally {
    await c.dispose();
    await server.shutdown();
  }
});

Deno.test("keep-alive, pipelining and chunked bodies pass through unchanged", async () => {
  const { server, port } = await serve();
  const c = await RawConnection.open(port);
  try {
    const put = (key: string, body: string) =>
      `PUT /v1/config/${key} HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n` +
      `content-length: ${body.length}\r\n\r\n${body}`;
    const chunked = "PUT /v1/config/c HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n" +
      "transfer-encoding: chunked\r\n\r\n3;ext=1\r\n[1,\r\n2\r\n2]\r\n0\r\nX-T: 1\r\n\r\n";
    // Three requests in one write, then a fourth on the same connection later.
    await c.send(put("a", "1") + chunked + GET("/v1/config/c"));
    const parts = (text: string) => text.split(/(?=HTTP\/1\.1 )/);
    const whole = (n: number) => (text: string) =>
      parts(text).length === n && wholeAnswer(parts(text)[n - 1]);
    await c.until(whole(3), 5000);
    await c.send(GET("/v1/config/a"));
    await c.until(whole(4), 5000);
    assert.ok(!c.closed, "the connection stays open");
    const answers = parts(c.text).map(parseAnswer);
    assert.deepEqual(answers.map((a) => a.status), [200, 200, 200, 200]);
    assert.deepEqual(answers[2].json.value, [1, 2]);
    assert.equal(answers[3].json.value, 1);
    for (const a of answers) assert.equal(a.headers.get("connection"), undefined);
  } finally {
    await c.dispose();
    await server.shutdown();
  }
});

Deno.test("Content-Length with Transfer-Encoding is refused (request smuggling)", async () => {
  const { server, port } = await serve();
  try {
    const answer = await rawRequest(
      port,
      "PUT /v1/config/a HTTP/1.1\r\nHost: x\r\ncontent-length: 4\r\n" +
        "transfer-encoding: chunked\r\n\r\n0\r\n\r\n",
    );
    assertProblem(answer, 400, "invalid-request");
  } finally {
    await server.shutdown();
  }
});

Deno.test("a client that leaves mid-request aborts the handler's request.signal", async () => {
  const aborted = Promise.withResolvers<void>();
  const entered = Promise.withResolvers<void>();
  const { server, port } = await serve({}, (req) => {
    req.signal.addEventListener("abort", () => aborted.resolve());
    entered.resolve();
    return new Promise<Response>((resolve) => {
      req.signal.addEventListener("abort", () => resolve(new Response("late")));
    });
  });
  const c = await RawConnection.open(port);
  try {
    await c.send(GET("/wait"));
    await entered.promise;
    c.close();
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      aborted.promise,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error("the handler was not aborted")), 5000);
      }),
    ]);
    clearTimeout(timer);
  } finally {
    await c.dispose();
    await server.shutdown();
  }
});

Deno.test("resolveConnectionLimits refuses limits it could not enforce", () => {
  assert.equal(resolveConnectionLimits({ idleTimeoutMs: 5 }).idleTimeoutMs, 5);
  assert.throws(() => resolveConnectionLimits({ idleTimeoutMs: 0 }), RangeError);
  assert.throws(() => resolveConnectionLimits({ maxHeaders: 1.5 }), RangeError);
  assert.throws(() => resolveConnectionLimits({ nope: 1 } as never), RangeError);
});

Deno.test("a request under way is never idle: a slow answer and a stream with gaps go through", async () => {
  const idleTimeoutMs = 800;
  const { server, port } = await serve({ idleTimeoutMs }, (req) => {
    if (req.url.endsWith("/slow")) {
      return new Promise((resolve) =>
        setTimeout(() => resolve(new Response("late but whole")), idleTimeoutMs * 2)
      );
    }
    let n = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        await new Promise((r) => setTimeout(r, idleTimeoutMs * 1.5));
        controller.enqueue(new TextEncoder().encode(`data: ${n}\n\n`));
        if (++n === 3) controller.close();
      },
    });
    return new Response(body, { headers: { "content-type": "text/event-stream" } });
  });
  const c = await RawConnection.open(port);
  try {
    await c.send(GET("/slow"));
    await c.until(wholeAnswer, idleTimeoutMs * 4);
    assert.equal(parseAnswer(c.text).body, "late but whole");
    await c.send(GET("/stream"));
    await c.until(
      (t) => t.includes("data: 2\n\n") && t.endsWith("\r\n0\r\n\r\n"),
      idleTimeoutMs * 8,
    );
    assert.ok(!c.closed);
    // Idle again after the stream ended: closed.
    await c.waitClosed(idleTimeoutMs + 1500);
  } finally {
    await c.dispose();
    await server.shutdown();
  }
});

Deno.test("a client that stops reading an answer is dropped after idleTimeoutMs", async () => {
  const idleTimeoutMs = 1000;
  let cancelled = false;
  const { server, port } = await serve({ idleTimeoutMs }, () => {
    const chunk = new Uint8Array(64 * 1024);
    const body = new ReadableStream<Uint8Array>({
      pull: (controller) => controller.enqueue(chunk),
      cancel: () => {
        cancelled = true;
      },
    });
    return new Response(body);
  });
  // A bare socket that sends a request and never reads.
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(new TextEncoder().encode(GET("/endless")));
    await poll(async () => (await server.connections()) === 1 || undefined, {
      what: "the connection",
      timeoutMs: 2000,
    });
    const started = Date.now();
    await poll(async () => (await server.connections()) === 0 || undefined, {
      what: "the stalled connection dropped",
      timeoutMs: idleTimeoutMs + 5000,
    });
    assert.ok(Date.now() - started >= idleTimeoutMs - 100);
    await poll(() => cancelled || undefined, {
      what: "the answer's stream cancelled",
      timeoutMs: 3000,
    });
  } finally {
    conn.close();
    await server.shutdown();
  }
});

Deno.test("answers without a body (HEAD, 304) end where they should: the connection then idles out", async () => {
  const idleTimeoutMs = 800;
  const { server, port } = await serve({ idleTimeoutMs });
  const c = await RawConnection.open(port);
  try {
    await c.send("HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    await c.until((t) => t.includes("\r\n\r\n"), 3000);
    await c.send(GET("/healthz"));
    await c.until((t) => t.split("HTTP/1.1 200").length === 3 && t.endsWith("}"), 3000);
    const answered = Date.now();
    await c.waitClosed(idleTimeoutMs + 1500);
    assert.ok(c.closedAt! - answered >= idleTimeoutMs - 100, "idle timer ran after the answers");
  } finally {
    await c.dispose();
    await server.shutdown();
  }
});

Deno.test("what Deno.serve gave for free: Date, 100 Continue, HTTP/1.0, GET bodies, 500", async () => {
  const { server, port } = await serve({}, async (req) => {
    if (req.url.endsWith("/throw")) throw new Error("a handler bug (expected in this test)");
    const body = req.body === null ? "" : await req.text();
    return Response.json({ method: req.method, url: req.url, body });
  });
  const originalError = console.error;
  console.error = () => {};
  const c = await RawConnection.open(port);
  try {
    // Expect: 100-continue: the continue comes first, then the body is read.
    await c.send(
      "POST /echo HTTP/1.1\r\nHost: h:1\r\nExpect: 100-continue\r\ncontent-length: 2\r\n\r\n",
    );
    await c.until((t) => t.startsWith("HTTP/1.1 100 Continue\r\n\r\n"), 3000);
    await c.send("hi");
    await c.until((t) => wholeAnswer(t.slice(t.indexOf("\r\n\r\n") + 4)), 3000);
    const echoed = parseAnswer(c.text.slice(c.text.indexOf("\r\n\r\n") + 4));
    assert.equal(echoed.status, 200);
    assert.deepEqual(echoed.json, { method: "POST", url: "http://h:1/echo", body: "hi" });
    assert.match(echoed.headers.get("date") ?? "", /^\w{3}, \d{2} \w{3} \d{4} [\d:]{8} GMT$/);

    // A GET with a body: the body is dropped, the connection carries on.
    const get = await rawRequest(
      port,
      "GET /echo HTTP/1.1\r\nHost: x\r\ncontent-length: 3\r\n\r\nabc",
    );
    assert.deepEqual(get.json.body, "");

    // HTTP/1.0 without keep-alive: a length, then the close.
    const old = await RawConnection.open(port);
    try {
      await old.send("GET /echo HTTP/1.0\r\n\r\n");
      await old.waitClosed(3000);
      const answer = parseAnswer(old.text);
      assert.equal(answer.status, 200);
      assert.equal(answer.headers.get("connection"), "close");
      assert.equal(answer.json.url, `http://127.0.0.1:${port}/echo`);
    } finally {
      await old.dispose();
    }

    // A handler that throws: 500, as Deno.serve answers.
    assert.equal((await rawRequest(port, GET("/throw"))).status, 500);

    // A Host that would move the path inside the URL, a target that is no path: 400.
    assert.equal((await rawRequest(port, "GET /echo HTTP/1.1\r\nHost: a/b?\r\n\r\n")).status, 400);
    assert.equal((await rawRequest(port, "GET echo HTTP/1.1\r\nHost: x\r\n\r\n")).status, 400);

    // A malformed chunk: 400, and the connection ends.
    const bad = await rawRequest(
      port,
      "POST /echo HTTP/1.1\r\nHost: x\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
    );
    assert.equal(bad.status, 400);
  } finally {
    console.error = originalError;
    await c.dispose();
    await server.shutdown();
  }
});

Deno.test("whole bodies are sent with a length, streams in chunks (Deno's inner state is read right)", async () => {
  assert.ok(isStaticBody(Response.json({ a: 1 })), "Response.json");
  assert.ok(isStaticBody(new Response("text")), "a string body");
  assert.ok(isStaticBody(new Response(new Uint8Array(3))), "a bytes body");
  assert.ok(isStaticBody(new Response(null, { status: 204 })), "no body");
  assert.ok(!isStaticBody(new Response(new ReadableStream())), "a stream");
  const { server, port } = await serve();
  try {
    const answer = await rawRequest(port, GET("/healthz"));
    assert.equal(answer.headers.get("content-length"), String(answer.body.length));
    assert.equal(answer.headers.get("transfer-encoding"), undefined);
  } finally {
    await server.shutdown();
  }
});

Deno.test("a client that leaves ends the answer's stream, even one deaf to request.signal", async () => {
  const cancelled = Promise.withResolvers<void>();
  const { server, port } = await serve({}, () =>
    new Response(
      new ReadableStream<Uint8Array>({
        start: (controller) => controller.enqueue(new TextEncoder().encode("data: 0\n\n")),
        cancel: () => cancelled.resolve(),
      }),
      { headers: { "content-type": "text/event-stream" } },
    ));
  const c = await RawConnection.open(port);
  try {
    await c.send(GET("/stream"));
    await c.until((t) => t.includes("data: 0"), 3000);
    c.close();
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      cancelled.promise,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error("the stream was not cancelled")), 5000);
      }),
    ]);
    clearTimeout(timer);
    await poll(async () => (await server.connections()) === 0 || undefined, {
      what: "no connection left",
      timeoutMs: 2000,
    });
  } finally {
    await c.dispose();
    await server.shutdown();
  }
});

Deno.test("the layer's own answers are counted in the request metrics", async () => {
  const { app } = makeApp();
  const port = freePort();
  // app.fetch itself: it carries the hooks (the shortcut and the counter) that a wrapper drops.
  const server = await serveClientPort({ hostname: "127.0.0.1", port }, app.fetch);
  try {
    let head = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
    for (let i = 0; i < 500; i++) head += `X-H${i}: v\r\n`;
    assert.equal((await rawRequest(port, head + "\r\n")).status, 431);
    assert.equal((await rawRequest(port, "GET / HTTP/1.1\r\nBad Header: x\r\n\r\n")).status, 400);
    assert.equal((await rawRequest(port, "GET / HTTP/1.1\r\nBad Header: x\r\n\r\n")).status, 400);
    const metrics = (await rawRequest(port, GET("/metrics", "Connection: close\r\n"))).body;
    const line = (status: number) =>
      `edgeraft_http_requests_total{method="other",route="connection",status="${status}"}`;
    assert.ok(metrics.includes(`${line(431)} 1\n`), metrics);
    assert.ok(metrics.includes(`${line(400)} 2\n`), metrics);
  } finally {
    await server.shutdown();
  }
});
