/**
 * The pieces of `edgeraft` that need no process: durations, tables, where it connects, exit
 * codes and error lines.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  EdgeraftError,
  LockHeldError,
  NetworkError,
  OutcomeUnknownError,
  PreconditionFailedError,
} from "../../src/client/mod.ts";
import { parseCommandLine } from "../../src/cli/ctl/args.ts";
import { COMMANDS } from "../../src/cli/ctl/commands.ts";
import { connectionSettings, DEFAULT_ENDPOINTS } from "../../src/cli/ctl/connection.ts";
import { parseDuration } from "../../src/cli/ctl/duration.ts";
import { errorLine, exitCodeFor } from "../../src/cli/ctl/exit_codes.ts";
import { formatTable } from "../../src/cli/ctl/table.ts";
import { UsageError } from "../../src/cli/ctl/usage_error.ts";

Deno.test("durations: 30s, 500ms, 2m, 1h, 1.5s; a bare number or unknown unit is a usage error", () => {
  assert.equal(parseDuration("--ttl", "30s"), 30_000);
  assert.equal(parseDuration("--ttl", "500ms"), 500);
  assert.equal(parseDuration("--ttl", "2m"), 120_000);
  assert.equal(parseDuration("--ttl", "1h"), 3_600_000);
  assert.equal(parseDuration("--ttl", "1.5s"), 1_500);
  for (const bad of ["30", "s", "-1s", "3d", "1 s", ""]) {
    assert.throws(() => parseDuration("--ttl", bad), UsageError, bad);
  }
});

Deno.test("tables: columns as wide as their widest cell, the last one unpadded", () => {
  assert.equal(
    formatTable(["KEY", "REVISION", "VALUE"], [["a", "1", "x"], ["long/key", "12", "{}"]]),
    "KEY       REVISION  VALUE\na         1         x\nlong/key  12        {}",
  );
});

Deno.test("endpoints and token: flag over env over the local cluster's", () => {
  assert.deepEqual(connectionSettings({}, {}).endpoints, [...DEFAULT_ENDPOINTS]);
  const env = { EDGERAFT_ENDPOINTS: "http://e:1, http://f:2", EDGERAFT_TOKEN: "t" };
  assert.deepEqual(connectionSettings({}, env), {
    endpoints: ["http://e:1", "http://f:2"],
    token: "t",
  });
  assert.deepEqual(connectionSettings({ endpoints: "https://g:3", token: "u" }, env), {
    endpoints: ["https://g:3"],
    token: "u",
  });
  assert.throws(() => connectionSettings({ endpoints: "," }, {}), UsageError);
  assert.throws(() => connectionSettings({ endpoints: "g:3" }, {}), UsageError);
});

Deno.test("command lines: words, flags anywhere, -- for run-locked", () => {
  const get = parseCommandLine(["--json", "get", "a", "--stale"], COMMANDS);
  assert.equal(get.command?.words.join(" "), "get");
  assert.deepEqual(get.args, ["a"]);
  assert.equal(get.flags.json, true);
  const run = parseCommandLine(
    ["run-locked", "cron", "--ttl", "10s", "--", "sh", "-c", "x --ttl 5"],
    COMMANDS,
  );
  assert.deepEqual(run.rest, ["sh", "-c", "x --ttl 5"]);
  assert.equal(run.flags.ttl, "10s");
  const lock = parseCommandLine(["lock", "show", "cron"], COMMANDS);
  assert.equal(lock.command?.words.join(" "), "lock show");
  assert.equal(parseCommandLine(["lock", "steal"], COMMANDS).command, undefined);
  assert.throws(() => parseCommandLine(["get", "a", "--ttl", "1s"], COMMANDS), UsageError);
  assert.deepEqual(parseCommandLine(["put", "n", "-5.5"], COMMANDS).args, ["n", "-5.5"]);
});

Deno.test("exit codes and error lines", () => {
  assert.equal(exitCodeFor(new UsageError("x")), 2);
  assert.equal(exitCodeFor(new PreconditionFailedError(412, {})), 1);
  assert.equal(exitCodeFor(new NetworkError("http://a", new Error("refused"))), 3);
  assert.equal(exitCodeFor(new OutcomeUnknownError(504, {})), 3);
  const refused = new TypeError("fetch failed", {
    cause: new Error("error sending request: tcp connect error: Connection refused (os error 111)"),
  });
  assert.equal(
    errorLine(new NetworkError("http://n1:7001/v1/config/a", refused)),
    "edgeraft: no endpoint answered (last tried http://n1:7001: Connection refused (os error 111))",
  );
  assert.equal(
    errorLine(new EdgeraftError(412, { title: "A precondition failed", detail: "at 7" })),
    "edgeraft: A precondition failed: at 7",
  );
  const held = new LockHeldError({
    title: "The lock is held",
    detail: "cron is held",
    holder: { token: 9, owner: "eu", expiresAt: 0 },
  });
  assert.equal(
    errorLine(held),
    "edgeraft: The lock is held: cron is held (held by eu with token 9 until " +
      "1970-01-01T00:00:00.000Z)",
  );
  // A detail that starts with the title is said once.
  assert.equal(
    errorLine(
      new EdgeraftError(409, {
        title: "The token does not hold the lock",
        detail: "the token does not hold the lock cron (released, expired or never granted)",
      }),
    ),
    "edgeraft: the token does not hold the lock cron (released, expired or never granted)",
  );
});
