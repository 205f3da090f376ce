/**
 * docs/architecture.md stays citable: every `docs/architecture.md#<anchor>` in the tree (source
 * comments, tests, benchmarks, docs) names a heading the document has, and no file cites the old
 * design note that lives outside the repository.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join, relative } from "node:path";

const ROOT = new URL("../../", import.meta.url).pathname;
const DOC = join(ROOT, "docs/architecture.md");

/** Not the project's own text: version control, dependencies, results, local data. */
const SKIPPED_NAMES = new Set([".git", "node_modules", ".results"]);
const SKIPPED_PATHS = new Set(["data", "bench/results"]);
/** Files read as text; anything else (images, databases) cannot cite anything. */
const TEXT_FILE = /(\.(ts|js|mjs|md|json|jsonc|yml|yaml|sh|txt|toml)|Dockerfile|\/\.ci\/run)$/;

/** Every text file of the tree, as [path relative to the root, contents]. */
async function textFiles(): Promise<[string, string][]> {
  const files: [string, string][] = [];
  const walk = async (dir: string): Promise<void> => {
    for await (const entry of Deno.readDir(dir)) {
      const path = join(dir, entry.name);
      const rel = relative(ROOT, path);
      if (entry.isDirectory) {
        if (!SKIPPED_NAMES.has(entry.name) && !SKIPPED_PATHS.has(rel)) await walk(path);
      } else if (entry.isFile && TEXT_FILE.test(path)) {
        files.push([rel, await Deno.readTextFile(path)]);
      }
    }
  };
  await walk(ROOT);
  return files;
}

/**
 * The anchors GitHub gives a Markdown file's headings: lower case, punctuation dropped, spaces
 * made hyphens, a repeated anchor numbered `-1`, `-2`, ... Headings inside code fences are not
 * headings.
 */
function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  let fenced = false;
  for (const line of markdown.split("\n")) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    const heading = fenced ? null : /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!heading) continue;
    const base = heading[1].toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, "").replace(/\s/g, "-");
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

Deno.test("headingAnchors makes GitHub's anchors", () => {
  const anchors = headingAnchors(
    "# How it is built\n## What 503 and 504 mean\n```\n# not a heading\n```\n" +
      "### Exactly once: keys and `sessions`\n## Notes\n## Notes\n",
  );
  assert.deepEqual([...anchors], [
    "how-it-is-built",
    "what-503-and-504-mean",
    "exactly-once-keys-and-sessions",
    "notes",
    "notes-1",
  ]);
});

Deno.test("every docs/architecture.md#<anchor> cited in the tree names a heading of it", async () => {
  const anchors = headingAnchors(await Deno.readTextFile(DOC));
  const broken: string[] = [];
  let cited = 0;
  for (const [path, text] of await textFiles()) {
    const refs = [...text.matchAll(/architecture\.md#([\p{L}\p{N}_-]+)/gu)].map((m) => m[1]);
    // The document's own links: `](#anchor)`.
    if (path === "docs/architecture.md") {
      refs.push(...[...text.matchAll(/\]\(#([\p{L}\p{N}_-]+)\)/gu)].map((m) => m[1]));
    }
    for (const anchor of refs) {
      cited++;
      if (!anchors.has(anchor)) broken.push(`${path}: #${anchor}`);
    }
  }
  assert.deepEqual(broken, [], `anchors that name no heading of docs/architecture.md`);
  assert.ok(
    cited > 20,
    `only ${cited} citations of docs/architecture.md found: is the walk right?`,
  );
});

Deno.test("the sections other files rely on are there", async () => {
  const anchors = headingAnchors(await Deno.readTextFile(DOC));
  for (
    const anchor of [
      "the-layers",
      "the-ready-contract",
      "the-write-path",
      "the-read-path",
      "lock-time-rules",
      "time-enters-through-the-log",
      "snapshots-and-compaction",
      "storage-in-deno-kv",
      "peer-transport",
      "client-port-connections",
      "watches",
      "test-strategy",
    ]
  ) {
    assert.ok(anchors.has(anchor), `docs/architecture.md has no heading for #${anchor}`);
  }
});

Deno.test("no file cites the design note outside the repository", async () => {
  // Spelt in two pieces so that this file does not cite it either.
  const note = new RegExp(["DESIGN", "\\.md"].join(""));
  const citing = (await textFiles()).filter(([, text]) => note.test(text)).map(([path]) => path);
  assert.deepEqual(citing, [], "cite docs/architecture.md#<section> instead");
});
