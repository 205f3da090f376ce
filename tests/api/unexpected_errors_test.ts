/**
 * Errors reach the client by name, never by built-in type: a bug in the apply path (here a
 * `TypeError` thrown by the state machine) is a 500 `internal` problem that shows nothing of
 * the error, with one log line carrying its stack; a command the state machine refuses is a
 * 400 that says which field is wrong.
 */

import assert from "node:assert/strict";
import { NodeStoppedError, OutcomeUnknownError } from "../../src/node/errors.ts";
import type { LogLevel } from "../../src/node/logger.ts";
import { InvalidCommandError } from "../../src/state/errors.ts";
import type { ApplyOutcome } from "../../src/state/results.ts";
import { makeApp, send } from "./harness.ts";

type Line = { level: LogLevel; event: string; fields: Record<string, unknown> };

function appWithLog() {
  const lines: Line[] = [];
  const made = makeApp({
    logger: { log: (level, event, fields = {}) => lines.push({ level, event, fields }) },
  });
  return { ...made, lines };
}

/** What a stack trace or the error's own words would look like in a body. */
const INTERNALS = /secretHolder|TypeError|\bat .*\.ts|node_modules|stack/;

Deno.test("unexpected errors: a TypeError in the apply path is a 500 without internals, logged with its stack", async () => {
  const { app, node, lines } = appWithLog();
  node.sm.applySubmission = (): ApplyOutcome => {
    throw new TypeError("Cannot read properties of undefined (reading 'secretHolder')");
  };
  const requests: [string, string, Record<string, unknown>?][] = [
    ["PUT", "/v1/config/app/flags", { json: { dark: true } }],
    ["DELETE", "/v1/config/app/flags"],
    ["POST", "/v1/locks/cron/acquire", { json: { ttlMs: 10_000 } }],
    ["POST", "/v1/locks/cron/renew", { json: { token: 7 } }],
  ];
  for (const [method, path, init] of requests) {
    lines.length = 0;
    const answer = await send(app, method, path, init);
    assert.equal(answer.status, 500, `${method} ${path}: ${answer.text}`);
    assert.equal(answer.headers.get("content-type"), "application/problem+json");
    assert.deepEqual(answer.body, {
      type: "urn:edgeraft:problem:internal",
      title: "Internal error",
      status: 500,
      detail: "an unexpected error occurred; it has been logged",
    });
    assert.doesNotMatch(answer.text, INTERNALS);
    const errors = lines.filter((l) => l.level === "error");
    assert.equal(errors.length, 1, `${method} ${path}: one log line`);
    assert.equal(errors[0].event, "api request failed");
    assert.equal(errors[0].fields.method, method);
    assert.equal(errors[0].fields.path, path);
    const stack = String(errors[0].fields.stack);
    assert.match(
      stack,
      /^TypeError: Cannot read properties of undefined \(reading 'secretHolder'\)/,
    );
    assert.match(stack, /\n\s+at /, "the log line has the stack");
  }
});

Deno.test("unexpected errors: a command the state machine refuses is a 400 naming the field", async () => {
  const { app, node, lines } = appWithLog();
  // What the node throws when encoding refuses the command (nothing was proposed).
  node.submitError = new InvalidCommandError("cmd.owner must be a well-formed string");
  const refused = await send(app, "POST", "/v1/locks/cron/acquire", { json: { ttlMs: 10_000 } });
  assert.equal(refused.status, 400);
  assert.equal(refused.body.type, "urn:edgeraft:problem:invalid-request");
  assert.equal(refused.body.detail, "cmd.owner must be a well-formed string");
  node.submitError = undefined;
  // The same refusal at apply time (a bad entry in the log): answered, not thrown.
  const detail = "cmd.key must be a non-empty well-formed string";
  node.sm.applySubmission = (index): ApplyOutcome => ({
    index,
    result: { ok: false, reason: "bad_command", detail },
    events: [],
    revision: 0,
    duplicate: false,
  });
  const atApply = await send(app, "PUT", "/v1/config/k", { json: 1 });
  assert.equal(atApply.status, 400);
  assert.equal(atApply.body.detail, detail);
  assert.equal(lines.filter((l) => l.level === "error").length, 0, "a refusal is not a bug");
});

Deno.test("unexpected errors: the node's own errors keep their meaning", async () => {
  const { app, node, lines } = appWithLog();
  node.submitError = new OutcomeUnknownError("the node stopped before the proposal was applied");
  const unknown = await send(app, "PUT", "/v1/config/k", { json: 1 });
  assert.equal(unknown.status, 504);
  assert.equal(unknown.body.type, "urn:edgeraft:problem:timeout");
  node.submitError = new NodeStoppedError("the node is stopping");
  const stopped = await send(app, "PUT", "/v1/config/k", { json: 1 });
  assert.equal(stopped.status, 503);
  assert.equal(stopped.headers.get("retry-after"), "1");
  assert.equal(stopped.body.type, "urn:edgeraft:problem:no-leader");
  assert.equal(lines.filter((l) => l.level === "error").length, 0);
});
