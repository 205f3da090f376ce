import assert from "node:assert/strict";
import { Hono } from "hono";
import type { ApiEnv } from "../../app_env.ts";
import { problemErrorHandler } from "../problem_errors/problem_errors.ts";
import { authorize, bearerAuth, type Need } from "./auth.ts";
import type { TokenConfig } from "./principal.ts";

function app(tokens: TokenConfig[], need: Need) {
  const app = new Hono<ApiEnv>();
  app.onError(problemErrorHandler());
  app.use("*", bearerAuth(tokens));
  app.get("/healthz", (c) => c.text("up"));
  app.get("/thing", (c) => {
    authorize(c, need);
    return c.text("ok");
  });
  return app;
}

const get = async (a: Hono<ApiEnv>, path: string, token?: string) =>
  (await a.request(path, { headers: token ? { authorization: `Bearer ${token}` } : {} })).status;

Deno.test("open without tokens: everything is allowed", async () => {
  assert.equal(await get(app([], { scopes: ["admin"] }), "/thing"), 200);
});

Deno.test("401 without or with an unknown token; public paths pass", async () => {
  const a = app([{ token: "t1", scopes: ["read"] }], { scopes: ["read"] });
  assert.equal(await get(a, "/thing"), 401);
  assert.equal(await get(a, "/thing", "t2"), 401);
  assert.equal(await get(a, "/thing", "t1"), 200);
  assert.equal(await get(a, "/healthz"), 200);
});

Deno.test("403 for a missing scope; admin passes everything", async () => {
  const tokens: TokenConfig[] = [
    { token: "r", scopes: ["read"] },
    { token: "a", scopes: ["admin"], keyPrefixes: ["x/"] },
  ];
  const a = app(tokens, { scopes: ["write"], key: "y" });
  assert.equal(await get(a, "/thing", "r"), 403);
  assert.equal(await get(a, "/thing", "a"), 200);
});

Deno.test("prefixes bound keys, key prefixes and locks", async () => {
  const tokens: TokenConfig[] = [
    { token: "p", scopes: ["read", "lock"], keyPrefixes: ["a/"], lockPrefixes: ["l/"] },
  ];
  assert.equal(await get(app(tokens, { scopes: ["read"], key: "a/1" }), "/thing", "p"), 200);
  assert.equal(await get(app(tokens, { scopes: ["read"], key: "b/1" }), "/thing", "p"), 403);
  assert.equal(await get(app(tokens, { scopes: ["read"], keyPrefix: "a" }), "/thing", "p"), 403);
  assert.equal(await get(app(tokens, { scopes: ["lock"], lock: "l/x" }), "/thing", "p"), 200);
  assert.equal(await get(app(tokens, { scopes: ["lock"], lock: "m" }), "/thing", "p"), 403);
});
