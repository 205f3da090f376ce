/**
 * The tokens file: the example in docs/api.md ("The tokens file") loads and means what the text
 * around it says; mistakes are refused with a message naming the entry, by the real node too.
 */

import assert from "node:assert/strict";
import { loadTokens, parseTokens } from "../../src/cli/tokens_file.ts";
import { makeApp, send } from "../api/harness.ts";

const API_DOC = new URL("../../docs/api.md", import.meta.url);
const NODE_MAIN = new URL("../../src/cli/node.ts", import.meta.url).pathname;
const CONFIG = new URL("../../deno.json", import.meta.url).pathname;

/** The first ```json block of the "The tokens file" section of docs/api.md. */
async function documentedExample(): Promise<string> {
  const doc = await Deno.readTextFile(API_DOC);
  const section = doc.slice(doc.indexOf("### The tokens file"));
  assert.ok(section.length < doc.length, "docs/api.md has no section 'The tokens file'");
  const match = section.match(/```json\n([\s\S]*?)\n```/);
  assert.ok(match !== null, "the section has no json example");
  return match[1];
}

Deno.test("tokens file: the example in docs/api.md loads and grants what the text says", async () => {
  const dir = await Deno.makeTempDir({ prefix: "edgeraft_tokens_test_" });
  try {
    await Deno.writeTextFile(`${dir}/tokens.json`, await documentedExample());
    const tokens = await loadTokens(`${dir}/tokens.json`);
    assert.deepEqual(tokens.map((t) => t.name), ["ops", "edge-app", "dashboard"]);

    const { app } = makeApp({ tokens });
    const as = (name: string) => ({
      authorization: `Bearer ${tokens.find((t) => t.name === name)!.token}`,
    });
    const status = async (method: string, path: string, name: string, json?: unknown) =>
      (await send(app, method, path, { json, headers: as(name) })).status;
    // edge-app: keys under app/, locks under jobs/.
    assert.equal(await status("PUT", "/v1/config/app/flags", "edge-app", 1), 200);
    assert.equal(await status("GET", "/v1/config/app/flags", "edge-app"), 200);
    assert.equal(await status("PUT", "/v1/config/other", "edge-app", 1), 403);
    assert.equal(
      await status("POST", "/v1/locks/jobs%2Fnightly/acquire", "edge-app", { ttlMs: 5000 }),
      200,
    );
    assert.equal(await status("POST", "/v1/locks/cron/acquire", "edge-app", { ttlMs: 5000 }), 403);
    // dashboard reads every key and lock, writes nothing.
    assert.equal(await status("GET", "/v1/config/app/flags", "dashboard"), 200);
    assert.equal(await status("GET", "/v1/locks/cron", "dashboard"), 200);
    assert.equal(await status("PUT", "/v1/config/app/flags", "dashboard", 2), 403);
    // ops may do everything, /metrics included.
    assert.equal(await status("GET", "/metrics", "ops"), 200);
    assert.equal(await status("GET", "/metrics", "dashboard"), 403);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tokens file: mistakes are refused with the entry and the problem named", () => {
  const ok = { token: "a-long-random-token", scopes: ["read"] };
  const cases: [unknown, RegExp][] = [
    [{}, /must hold a non-empty JSON array/],
    [[], /must hold a non-empty JSON array/],
    [["token"], /tokens\[0\] must be an object/],
    [
      [ok, { ...ok, token: "other", keyPrefix: ["app/"] }],
      /tokens\[1\] has unknown field keyPrefix/,
    ],
    [[{ token: "t", scopes: [] }], /tokens\[0\]\.scopes must list at least one/],
    [[{ token: "t", scopes: ["root"] }], /unknown scope root/],
    [[{ token: "has space", scopes: ["read"] }], /tokens\[0\]\.token must be/],
    [[ok, ok], /configured twice/],
    [[{ ...ok, keyPrefixes: [1] }], /keyPrefixes must be strings/],
  ];
  for (const [parsed, message] of cases) {
    assert.throws(() => parseTokens(parsed, "t.json"), (e: Error) => {
      assert.match(e.message, /t\.json/);
      assert.match(e.message, message);
      return true;
    });
  }
});

Deno.test("tokens file: the node refuses a bad one at start with one line and exit 2", async () => {
  const dir = await Deno.makeTempDir({ prefix: "edgeraft_tokens_test_" });
  try {
    await Deno.writeTextFile(
      `${dir}/tokens.json`,
      JSON.stringify([{ token: "a-long-random-token", scopes: ["read"], keyPrefix: ["app/"] }]),
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        ...["run", "-A", `--config=${CONFIG}`, NODE_MAIN, "--data-dir", `${dir}/data`],
        ...["--client-addr", "127.0.0.1:0", "--peer-addr", "127.0.0.1:0"],
        ...["--tokens-file", `${dir}/tokens.json`],
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(60_000),
    }).output();
    const stderr = new TextDecoder().decode(out.stderr).trim();
    assert.equal(out.code, 2, stderr);
    assert.equal(stderr.split("\n").length, 1, stderr);
    assert.match(stderr, /^edgeraft: the tokens file .* tokens\[0\] has unknown field keyPrefix/);
    await assert.rejects(Deno.stat(`${dir}/data`), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
