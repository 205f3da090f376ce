import assert from "node:assert/strict";
import type { TokenConfig } from "../../src/api/middleware/auth/principal.ts";
import { makeApp, send } from "./harness.ts";

const TOKENS: TokenConfig[] = [
  { name: "admin", token: "admin-token", scopes: ["admin"] },
  { name: "reader", token: "read-token", scopes: ["read"] },
  { name: "app-writer", token: "write-app", scopes: ["read", "write"], keyPrefixes: ["app/"] },
  { name: "cron-locker", token: "lock-cron", scopes: ["lock"], lockPrefixes: ["cron/"] },
];

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

Deno.test("with tokens, requests without a valid bearer token get 401 with a challenge", async () => {
  const { app, node } = makeApp({ tokens: TOKENS });
  const none = await send(app, "PUT", "/v1/config/app/x", { json: 1 });
  assert.equal(none.status, 401);
  assert.equal(none.headers.get("www-authenticate"), 'Bearer realm="edgeraft"');
  assert.equal(none.body.type, "urn:edgeraft:problem:unauthorized");
  const wrong = await send(app, "GET", "/v1/config/app/x", { headers: bearer("nope") });
  assert.equal(wrong.status, 401);
  assert.match(wrong.headers.get("www-authenticate")!, /invalid_token/);
  for (const header of ["Basic YTpi", "Bearer", "Bearer a b", "bearer  "]) {
    const a = await send(app, "GET", "/v1/cluster", { headers: { authorization: header } });
    assert.equal(a.status, 401, header);
  }
  assert.equal((await send(app, "GET", "/v1/nothing")).status, 401); // no probing of routes
  assert.equal(node.submissions.length, 0);
});

Deno.test("probes and the API document need no token; metrics need admin", async () => {
  const { app } = makeApp({ tokens: TOKENS });
  assert.equal((await send(app, "GET", "/healthz")).status, 200);
  assert.equal((await send(app, "GET", "/readyz")).status, 200);
  assert.equal((await send(app, "GET", "/openapi.json")).status, 200);
  assert.equal((await send(app, "GET", "/metrics")).status, 401);
  assert.equal((await send(app, "GET", "/metrics", { headers: bearer("read-token") })).status, 403);
  assert.equal(
    (await send(app, "GET", "/metrics", { headers: bearer("admin-token") })).status,
    200,
  );
  const doc = (await send(app, "GET", "/openapi.json")).body;
  assert.deepEqual(doc.paths["/v1/config/{key}"].get.security, [{ bearer: [] }]);
});

Deno.test("scopes: read reads, write writes, lock locks, admin does everything", async () => {
  const { app } = makeApp({ tokens: TOKENS });
  const status = async (method: string, path: string, token: string, json?: unknown) =>
    (await send(app, method, path, { json, headers: bearer(token) })).status;

  assert.equal(await status("PUT", "/v1/config/app/x", "read-token", 1), 403);
  assert.equal(await status("PUT", "/v1/config/app/x", "write-app", 1), 200);
  assert.equal(await status("GET", "/v1/config/app/x", "read-token"), 200);
  assert.equal(await status("GET", "/v1/config?prefix=", "read-token"), 200);
  assert.equal(
    await status("POST", "/v1/locks/cron%2Fa/acquire", "read-token", { ttlMs: 1000 }),
    403,
  );
  assert.equal(await status("PUT", "/v1/config/x", "lock-cron", 1), 403);
  assert.equal(await status("GET", "/v1/cluster", "lock-cron"), 200);
  assert.equal(await status("PUT", "/v1/config/any", "admin-token", 1), 200);
  assert.equal(await status("POST", "/v1/locks/any/acquire", "admin-token", { ttlMs: 1000 }), 200);
  const forbidden = await send(app, "PUT", "/v1/config/app/y", {
    json: 1,
    headers: bearer("read-token"),
  });
  assert.equal(forbidden.body.type, "urn:edgeraft:problem:forbidden");
  assert.match(forbidden.body.detail, /reader/);
  assert.doesNotMatch(forbidden.body.detail, /read-token/);
});

Deno.test("prefixes: a token reaches only keys, list/watch prefixes and locks under its own", async () => {
  const { app, node } = makeApp({ tokens: TOKENS });
  const status = async (method: string, path: string, token: string, json?: unknown) =>
    (await send(app, method, path, { json, headers: bearer(token) })).status;

  assert.equal(await status("PUT", "/v1/config/app/ok", "write-app", 1), 200);
  assert.equal(await status("PUT", "/v1/config/apple", "write-app", 1), 403);
  assert.equal(await status("DELETE", "/v1/config/other", "write-app"), 403);
  assert.equal(await status("GET", "/v1/config/secret", "write-app"), 403);
  assert.equal(await status("GET", "/v1/config?prefix=app/", "write-app"), 200);
  assert.equal(await status("GET", "/v1/config?prefix=app", "write-app"), 403);
  assert.equal(await status("GET", "/v1/config", "write-app"), 403);
  assert.equal(await status("GET", "/v1/watch?prefix=", "write-app"), 403);
  const watch = await app.request("/v1/watch?prefix=app/", { headers: bearer("write-app") });
  assert.equal(watch.status, 200);
  await watch.body!.cancel();

  assert.equal(
    await status("POST", "/v1/locks/cron%2Fdaily/acquire", "lock-cron", { ttlMs: 1000 }),
    200,
  );
  assert.equal(await status("POST", "/v1/locks/deploy/acquire", "lock-cron", { ttlMs: 1000 }), 403);
  assert.equal(await status("GET", "/v1/locks/cron%2Fdaily", "lock-cron"), 200);
  assert.equal(await status("GET", "/v1/locks/deploy", "lock-cron"), 403);
  assert.equal(node.sm.lockInfo("cron/daily").holder?.owner, "");
});

Deno.test("bad token configurations are refused at start", () => {
  for (
    const tokens of [
      [{ token: "", scopes: ["read"] }],
      [{ token: "has space", scopes: ["read"] }],
      [{ token: "t", scopes: [] }],
      [{ token: "t", scopes: ["root"] }],
      [{ token: "t", scopes: ["read"] }, { token: "t", scopes: ["write"] }],
    ]
  ) {
    assert.throws(() => makeApp({ tokens: tokens as TokenConfig[] }), TypeError);
  }
});

Deno.test("without tokens the API is open and says so in the log", () => {
  const lines: string[] = [];
  makeApp({ logger: { log: (_level, event) => lines.push(event) } });
  assert.ok(lines.some((l) => l.includes("open")));
});
