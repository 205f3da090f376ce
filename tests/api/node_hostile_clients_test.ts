/**
 * A real node process against hostile and careless clients, over raw sockets: header floods
 * get 431, a slowloris gets 408 within `--header-timeout-ms`, a gzip body gets 415, and
 * clients that hang up mid-body leave one `info` line each in the log: no stack, no error
 * line, and no Deno deprecation warning about `request.signal`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { startCluster } from "../process/cluster_fixture.ts";
import { poll } from "../process/poll.ts";
import { parseAnswer, RawConnection, rawRequest } from "./raw_http.ts";

const HEADER_TIMEOUT_MS = 1500;
const DISCONNECTS = 20;

Deno.test("a node answers floods and slow clients with problems and logs hang-ups as one info line", async () => {
  const cluster = await startCluster({
    nodes: 1,
    args: ["--header-timeout-ms", String(HEADER_TIMEOUT_MS), "--idle-timeout-ms", "5000"],
  });
  try {
    await cluster.waitForLeader();
    const port = cluster.members.get(1)!.clientPort;
    const put = (key: string, extra = "") =>
      `PUT /v1/config/${key} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n` +
      `content-type: application/json\r\n${extra}content-length: 1\r\n\r\n1`;

    // Ordinary traffic, including a try-lock (whose handler listens to request.signal).
    assert.equal((await rawRequest(port, put("app/a"))).status, 200);
    const acquire = await rawRequest(
      port,
      "POST /v1/locks/job/acquire HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" +
        'content-type: application/json\r\ncontent-length: 15\r\n\r\n{"ttlMs":10000}',
    );
    assert.equal(acquire.status, 200, acquire.body);

    // Clients that hang up in the middle of their body.
    for (let i = 0; i < DISCONNECTS; i++) {
      const c = await RawConnection.open(port);
      await c.send(
        `PUT /v1/config/app/slow${i} HTTP/1.1\r\nHost: x\r\n` +
          "content-type: application/json\r\ncontent-length: 1000\r\n\r\n[1,2,",
      );
      await c.dispose();
    }

    // Header floods.
    let flood = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
    for (let i = 0; i < 500; i++) flood += `X-H${i}: v\r\n`;
    const many = await rawRequest(port, flood + "\r\n");
    assert.equal(many.status, 431);
    assert.equal(many.json.type, "urn:edgeraft:problem:limit-exceeded");
    const big = await rawRequest(
      port,
      `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(100_000)}\r\n\r\n`,
    );
    assert.equal(big.status, 431);
    assert.equal(big.headers.get("content-type"), "application/problem+json");

    // A gzip body.
    const gzip = await rawRequest(port, put("app/gz", "content-encoding: gzip\r\n"));
    assert.equal(gzip.status, 415);
    assert.equal(gzip.json.type, "urn:edgeraft:problem:unsupported-media-type");

    // A slowloris: a byte every 500 ms.
    const slow = await RawConnection.open(port);
    const started = Date.now();
    try {
      const head = "GET /healthz HTTP/1.1\r\nX-Slow: " + "a".repeat(40);
      for (const byte of head) {
        if (slow.closed || !await slow.send(byte)) break;
        await new Promise((r) => setTimeout(r, 500));
      }
      await slow.waitClosed(HEADER_TIMEOUT_MS + 2000);
      assert.ok(slow.closedAt! - started < HEADER_TIMEOUT_MS + 1500);
      assert.equal(parseAnswer(slow.text).status, 408);
    } finally {
      await slow.dispose();
    }

    const lines = () => cluster.output(1).split("\n").filter((l) => l.trim() !== "");
    const gone = await poll(() => {
      const n = lines().filter((l) => l.includes('"client went away"')).length;
      return n >= DISCONNECTS ? n : undefined;
    }, { what: `${DISCONNECTS} "client went away" lines`, timeoutMs: 10_000 });
    assert.equal(gone, DISCONNECTS);
    const output = cluster.output(1);
    assert.ok(!output.includes("request.signal"), "no deprecation warning about request.signal");
    assert.ok(!/\n\s+at /.test(output), "no stack trace in the log");
    for (const line of lines()) {
      const record = JSON.parse(line);
      assert.notEqual(record.level, "error", line);
      if (record.event === "client went away") assert.equal(record.level, "info");
    }
  } finally {
    await cluster.stop();
  }
});
