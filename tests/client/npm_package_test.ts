/**
 * The client as npm users get it (issue 14): `deno task build:client`'s package, installed with
 * npm into a temporary folder, used from `node` against a real 3-node cluster: get, put, typed
 * errors, withLock, and the two examples of docs/client.md, taken from the document as written.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { buildClientPackage, PACKAGE_NAME } from "../../src/cli/build_client.ts";
import { startCluster } from "../process/cluster_fixture.ts";
import { withTempDir } from "../process/temp_dir.ts";

const DOC = new URL("../../docs/client.md", import.meta.url).pathname;

/** The `js` blocks of docs/client.md whose first line names a file (`// feature_flag.js`). */
async function docExamples(): Promise<Map<string, string>> {
  const text = await Deno.readTextFile(DOC);
  const examples = new Map<string, string>();
  for (const [, code] of text.matchAll(/```js\n([\s\S]*?)```/g)) {
    const name = /^\/\/ (\w+\.js)\n/.exec(code)?.[1];
    if (name) examples.set(name, code);
  }
  return examples;
}

/** What the test runs in node: the package's calls, then the examples. */
const NODE_SCRIPT = `
import assert from "node:assert/strict";
import {
  EdgeraftClient, LockHeldError, PreconditionFailedError, UnavailableError,
} from "${PACKAGE_NAME}";
import worker from "./feature_flag.js";
import { nightlyReport } from "./nightly_job.js";

const endpoints = process.env.EDGERAFT_ENDPOINTS.split(",");
const client = new EdgeraftClient({ endpoints });

const put = await client.put("node/a", { from: "node" });
assert.deepEqual((await client.get("node/a")).value, { from: "node" });
assert.equal(await client.get("node/none"), null);
await assert.rejects(
  client.put("node/a", 2, { ifRevision: put.revision + 1000 }),
  PreconditionFailedError,
);

const token = await client.withLock("node/lock", async ({ token, signal }) => {
  assert.equal(signal.aborted, false);
  await assert.rejects(client.acquire("node/lock", { ttlMs: 1000 }), LockHeldError);
  return token;
});
assert.ok(token > 0);
assert.equal((await client.lockState("node/lock")).holder, null);

const dead = new EdgeraftClient({ endpoints: ["http://127.0.0.1:" + process.env.DEAD_PORT], retries: 1 });
await assert.rejects(dead.get("x"), UnavailableError);

// docs/client.md: the feature flag handler.
const env = { EDGERAFT_ENDPOINTS: endpoints.join(",") };
const ask = async () => (await worker.fetch(new Request("https://shop.example/checkout"), env)).text();
assert.equal(await ask(), "classic checkout\\n");
await client.put("flags/new-checkout", true);
const fresh = await worker.fetch(new Request("https://shop.example/checkout"), env);
// The first answer (absent) is still fresh for 5 s: the handler says classic until then.
assert.equal(await fresh.text(), "classic checkout\\n");
// Another isolate (a fresh instance of the module) reads the flag that is set now.
const { default: isolate } = await import("./feature_flag.js?isolate=2");
const answer = await isolate.fetch(new Request("https://shop.example/checkout"), env);
assert.equal(await answer.text(), "new checkout\\n");
assert.match(answer.headers.get("x-flag-age-ms"), /^\\d+$/);

// docs/client.md: the cron job, run by three hosts at once, then by a late one.
const hosts = ["eu-west", "us-east", "ap-south"];
const results = await Promise.all(hosts.map((host) =>
  nightlyReport(new EdgeraftClient({ endpoints: [...endpoints].reverse() }), host, "2026-11-30")
));
assert.equal(results.filter((r) => r === "ran").length, 1, results.join(", "));
assert.equal(await nightlyReport(client, "late-host", "2026-11-30"), "already done");
const report = await client.get("reports/nightly/2026-11-30");
assert.ok(hosts.includes(report.value.host));
assert.ok(report.value.token > 0);
console.log("node: ok");
`;

Deno.test({
  name: "npm package: built, installed with npm, used from node against a 3-node cluster",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await withTempDir("edgeraft-npm-", async (dir) => {
      const pkg = join(dir, "package");
      const files = await buildClientPackage(pkg);
      for (const file of ["mod.js", "mod.d.ts", "package.json", "README.md"]) {
        assert.ok(files.includes(file), `${file} in ${files}`);
      }
      const app = join(dir, "app");
      await Deno.mkdir(app);
      await Deno.writeTextFile(
        join(app, "package.json"),
        JSON.stringify({ name: "app", private: true, type: "module" }),
      );
      const install = await new Deno.Command("npm", {
        args: ["install", "--offline", "--no-audit", "--no-fund", "--ignore-scripts", pkg],
        cwd: app,
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(install.code, 0, new TextDecoder().decode(install.stderr));
      const examples = await docExamples();
      assert.deepEqual([...examples.keys()].sort(), ["feature_flag.js", "nightly_job.js"]);
      for (const [name, code] of examples) await Deno.writeTextFile(join(app, name), code);
      await Deno.writeTextFile(join(app, "main.mjs"), NODE_SCRIPT);

      const c = await startCluster({ nodes: 3 });
      try {
        await c.waitForLeader();
        const dead = Deno.listen({ hostname: "127.0.0.1", port: 0 });
        const deadPort = String(dead.addr.port);
        dead.close();
        const run = await new Deno.Command("node", {
          args: ["main.mjs"],
          cwd: app,
          env: {
            EDGERAFT_ENDPOINTS: c.ids.map((id) => c.clientUrl(id)).join(","),
            DEAD_PORT: deadPort,
          },
          stdout: "piped",
          stderr: "piped",
        }).output();
        const text = new TextDecoder();
        const said = text.decode(run.stdout) + text.decode(run.stderr);
        assert.equal(run.code, 0, said);
        assert.match(said, /node: ok/);
      } finally {
        await c.stop();
      }
    });
  },
});
