/** `<data-dir>/node.json`: written atomically, read back, refused when damaged; cluster ids. */

import assert from "node:assert/strict";
import {
  foundersRecord,
  foundingClusterId,
  IdentityFileError,
  readIdentity,
  restoredClusterId,
  writeIdentity,
} from "../../src/cli/node_identity.ts";
import { withTempDir } from "../process/temp_dir.ts";

Deno.test("node identity: written, read back, replaced whole; no temporary file left", () =>
  withTempDir("edgeraft_identity_", async (dir) => {
    assert.equal(await readIdentity(dir), undefined);
    assert.equal(await readIdentity(`${dir}/missing`), undefined);
    await writeIdentity(dir, { id: 4, clusterId: "c-1", origin: "joined" });
    assert.deepEqual(await readIdentity(dir), { id: 4, clusterId: "c-1", origin: "joined" });
    const restored = {
      id: 1,
      clusterId: "c-2",
      origin: "restored" as const,
      restoredFrom: "ab",
      founders: foundersRecord(new Map([[1, "http://a:1"]]), new Map([[1, "http://a:2"]])),
    };
    await writeIdentity(dir, restored);
    assert.deepEqual(await readIdentity(dir), restored);
    const names = [];
    for await (const e of Deno.readDir(dir)) names.push(e.name);
    assert.deepEqual(names, ["node.json"]);
  }));

Deno.test("node identity: a damaged node.json is an IdentityFileError naming the file", () =>
  withTempDir("edgeraft_identity_", async (dir) => {
    const cases = [
      ["{", /is not JSON/],
      ['{"id": 0}', /is not a node identity/],
      ['{"id": 1, "clusterId": "c", "origin": "founded", "founders": {"peers": 1}}', /founders/],
    ];
    for (const [text, pattern] of cases) {
      await Deno.writeTextFile(`${dir}/node.json`, text as string);
      await assert.rejects(
        readIdentity(dir),
        (e) =>
          e instanceof IdentityFileError && (pattern as RegExp).test(e.message) &&
          e.message.includes(`${dir}/node.json`),
      );
    }
  }));

Deno.test("node identity: every founder derives the same cluster id; a restore gets another", async () => {
  const peers = new Map([[1, "http://a:1"], [2, "http://b:2"], [3, "http://c:3"]]);
  const reordered = new Map([[3, "http://c:3"], [1, "http://a:1"], [2, "http://b:2"]]);
  const founding = await foundingClusterId(peers);
  assert.match(founding, /^c-[0-9a-f]{16}$/);
  assert.equal(await foundingClusterId(reordered), founding);
  assert.notEqual(await foundingClusterId(new Map([[1, "http://a:1"]])), founding);
  const restored = await restoredClusterId(peers, "00ff");
  assert.notEqual(restored, founding);
  assert.equal(await restoredClusterId(reordered, "00ff"), restored);
  assert.notEqual(await restoredClusterId(peers, "00fe"), restored);
});
