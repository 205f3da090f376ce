import assert from "node:assert/strict";
import { Hono } from "hono";
import { NodeStoppedError, NoLeaderError, OutcomeUnknownError } from "../../../node/errors.ts";
import { ProposalTimeoutError } from "../../../node/pending_proposals.ts";
import { ReadTimeoutError } from "../../../node/read_barrier.ts";
import { InvalidCommandError } from "../../../state/errors.ts";
import { ProblemError } from "../../problem.ts";
import { methodNotAllowed, problemErrorHandler, problemNotFound } from "./problem_errors.ts";

function app(error: unknown) {
  const logged: string[] = [];
  const stacks: unknown[] = [];
  const app = new Hono();
  app.onError(problemErrorHandler({
    log: (_l, event, fields) => {
      logged.push(event);
      stacks.push(fields?.stack);
    },
  }));
  app.notFound(problemNotFound);
  app.get("/fail", () => {
    throw error;
  });
  app.all("/only-get", methodNotAllowed("GET"));
  return { app, logged, stacks };
}

Deno.test("errors become problem+json with the right status", async () => {
  const cases: [unknown, number, string, string?][] = [
    [new ProblemError(409, "lock-held", "held", { holder: "a" }), 409, "lock-held"],
    [new NoLeaderError("none"), 503, "no-leader", "1"],
    [new ReadTimeoutError("slow"), 503, "no-leader", "1"],
    [new ProposalTimeoutError("late"), 504, "timeout"],
    [new OutcomeUnknownError("stopped"), 504, "timeout"],
    [new NodeStoppedError("stopping"), 503, "no-leader", "1"],
    [new InvalidCommandError("cmd.key is required"), 400, "invalid-request"],
    [new Error("secret internals"), 500, "internal"],
    // Built-in errors are bugs whatever their message: none is taken for a bad request.
    [new TypeError("secret: cmd.key is required"), 500, "internal"],
    [new RangeError("secret range"), 500, "internal"],
    [new SyntaxError("secret syntax"), 500, "internal"],
  ];
  for (const [error, status, kind, retryAfter] of cases) {
    const { app: a, logged, stacks } = app(error);
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
    // The one log line of a bug carries what the body must not: the stack.
    if (status === 500) assert.match(String(stacks[0]), /^\w*Error: secret.*\n\s+at /);
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
