/**
 * Keys and lock names never hold a `.` or `..` segment, by any spelling: raw in the path (which
 * `fetch` and curl would normalise away, so these tests use raw sockets against a real
 * `Deno.serve`), percent-encoded (`%2e`), or inside one segment with `%2F`. And a token limited
 * to `q/` reaches nothing outside it, whichever spelling or normalisation is used.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { TokenConfig } from "../../src/api/middleware/auth/principal.ts";
import { freePort } from "../process/net.ts";
import { makeApp } from "./harness.ts";
import { rawRequest } from "./raw_http.ts";

const Q_WRITER = "q-writer-token-0123456789";
const TOKENS: TokenConfig[] = [
  { name: "q", token: Q_WRITER, scopes: ["read", "write", "lock"], keyPrefixes: ["q/"] },
  {
    name: "q-locks",
    token: "q-locker-token-0123456789",
    scopes: ["lock"],
    lockPrefixes: ["q/"],
  },
];

/** Spellings of the key `q/../b` (and friends) that must never store a key. */
const KEY_SPELLINGS = [
  "q/../b",
  "q/%2e%2e/b",
  "q/%2E./b",
  "q/.%2E/b",
  "q/./b",
  "q/%2e/b",
  "./b",
  "../b",
  "q/..",
  "q%2F..%2Fb",
  "q%2F%2E%2E%2Fb",
  "q%2f.%2fb",
  "q/..%2Fb",
  "q%2F../b",
  "..",
  "%2e",
];

function serve(tokens?: TokenConfig[]) {
  const { app, node } = makeApp(tokens ? { tokens } : {});
  const port = freePort();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port, onListen: () => {} },
    (req, info) => app.fetch(req, info),
  );
  return { server, port, node };
}

const put = (path: string, token?: string) =>
  `PUT ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n` +
  (token ? `Authorization: Bearer ${token}\r\n` : "") +
  "content-type: application/json\r\ncontent-length: 1\r\n\r\n1";

Deno.test("dot segments in a key are refused with 400 invalid-request, however spelled", async () => {
  const { server, port, node } = serve();
  try {
    for (const key of KEY_SPELLINGS) {
      const answer = await rawRequest(port, put(`/v1/config/${key}`));
      assert.equal(answer.status, 400, `${key}: ${answer.body}`);
      assert.equal(answer.json.type, "urn:edgeraft:problem:invalid-request", key);
      assert.match(answer.json.detail, /\. or \.\. segment/, key);
    }
    assert.equal(node.sm.revision, 0, "nothing was written");
    // Dots that are not whole segments are fine.
    for (const key of ["a..b", "q/.hidden", "q/...", "q/b."]) {
      const answer = await rawRequest(port, put(`/v1/config/${key}`));
      assert.equal(answer.status, 200, `${key}: ${answer.body}`);
    }
  } finally {
    await server.shutdown();
  }
});

Deno.test("a token limited to q/ reaches nothing outside q/ by any spelling", async () => {
  const { server, port, node } = serve(TOKENS);
  try {
    for (const key of KEY_SPELLINGS) {
      const answer = await rawRequest(port, put(`/v1/config/${key}`, Q_WRITER));
      assert.ok(answer.status === 400 || answer.status === 403, `${key}: ${answer.status}`);
      const get = await rawRequest(
        port,
        `GET /v1/config/${key} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n` +
          `Authorization: Bearer ${Q_WRITER}\r\n\r\n`,
      );
      assert.ok(get.status === 400 || get.status === 403, `GET ${key}: ${get.status}`);
    }
    assert.equal(node.sm.revision, 0, "nothing was written");
    assert.equal((await rawRequest(port, put("/v1/config/q/b", Q_WRITER))).status, 200);
    assert.equal((await rawRequest(port, put("/v1/config/b", Q_WRITER))).status, 403);

    // fetch normalises q/../b to b before sending: the server checks the path it gets.
    const url = `http://127.0.0.1:${port}/v1/config/q/../b`;
    const normalised = await fetch(url, {
      method: "PUT",
      headers: { authorization: `Bearer ${Q_WRITER}`, "content-type": "application/json" },
      body: "1",
    });
    assert.equal(normalised.status, 403);
    await normalised.body?.cancel();
    assert.equal(node.sm.get("b"), undefined);
  } finally {
    await server.shutdown();
  }
});

Deno.test("dot segments in a lock name are refused, and lock prefixes hold", async () => {
  const { server, port, node } = serve(TOKENS);
  const acquire = (name: string) =>
    `POST /v1/locks/${name}/acquire HTTP/1.1\r\nHost: x\r\nConnection: close\r\n` +
    "Authorization: Bearer q-locker-token-0123456789\r\n" +
    'content-type: application/json\r\ncontent-length: 15\r\n\r\n{"ttlMs":10000}';
  try {
    for (const name of ["q%2F..%2Fb", "q%2F.%2Fb", "..", "%2e%2e", ".", "q/../b", "q%2F..", "."]) {
      const answer = await rawRequest(port, acquire(name));
      assert.ok(answer.status === 400 || answer.status === 404, `${name}: ${answer.status}`);
      if (answer.status === 400) {
        assert.equal(answer.json.type, "urn:edgeraft:problem:invalid-request", name);
      }
    }
    assert.equal(node.sm.revision, 0);
    assert.equal((await rawRequest(port, acquire("b"))).status, 403);
    assert.equal((await rawRequest(port, acquire("q%2Fb"))).status, 200);
  } finally {
    await server.shutdown();
  }
});
