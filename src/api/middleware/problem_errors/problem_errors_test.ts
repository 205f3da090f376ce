import assert from "node:assert/strict";
import { Hono } from "hono";
import { NoLeaderError, ProposalTimeoutError } from "../../../node/raft_node.ts";
import { ReadTimeoutError } from "../../../node/read_barrier.ts";
import { ProblemError } from "../../problem.ts";
import { methodNotAllowed, problemErrorHandler, problemNotFound } from "./problem_errors.ts";

function app(error: unknown) {
  const logged: string[] = [];
  const app = new Hono();
  app.onError(problemErrorHandler({ log: (_l, event) => logged.push(event) }));
  app.notFound(problemNotFound);
  app.get("/fail", () => {
    throw error;
  });
  app.all("/only-get", methodNotAllowed("GET"));
  return { app, logged };
}

Deno.test("errors become problem+json with the right status", async () => {
  const cases: [unknown, number, string, string?][] = [
    [new ProblemError(409, "lock-held", "held", { holder: "a" }), 409, "lock-held"],
    [new NoLeaderError("none"), 503, "no-leader", "1"],
    [new ReadTimeoutError("slow"), 503, "no-leader", "1"],
    [new ProposalTimeoutError("late"), 504, "timeout"],
    [new Error("secret internals"), 500, "internal"],
  ];
  for (const [error, status, kind, retryAfter] of cases) {
    const { app: a, logged } = app(error);
    const answer = await a.request("/fail");
    assert.equal(answer.status, status);
    assert.equal(answer.headers.get("content-type"), "application/problem+json");
    assert.equal(answer.headers.get("retry-after"), retryAfter ?? null);
    const body = await answer.json();
    assert.equal(body.type, `urn:edgeraft:problem:${kind}`);
    assert.equal(body.status, status);
    assert.equal(typeof body.title, "string");
    assert.doesNotMatch(body.detail, /secret/);
    assert.equal(logged.length, status === 500 ? 1 : 0);
  }
});

Deno.test("404 and 405 are problems too", async () => {
  const { app: a } = app(null);
  const missing = await a.request("/nope");
  assert.equal(missing.status, 404);
  assert.equal((await missing.json()).type, "urn:edgeraft:problem:not-found");
  const wrong = await a.request("/only-get", { method: "POST" });
  assert.equal(wrong.status, 405);
  assert.equal(wrong.headers.get("allow"), "GET");
  await wrong.body?.cancel();
});
