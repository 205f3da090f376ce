import assert from "node:assert/strict";
import { Hono } from "hono";
import { problemErrorHandler } from "../problem_errors/problem_errors.ts";
import { hasDotSegment, pathSegments, rawPathOf } from "./path_segments.ts";

Deno.test("rawPathOf keeps the path as sent", () => {
  assert.equal(rawPathOf("http://h/v1/config/q/../b?x=/../"), "/v1/config/q/../b");
  assert.equal(rawPathOf("http://h:1/a%2F..%2Fb#f"), "/a%2F..%2Fb");
  assert.equal(rawPathOf("http://h"), "/");
});

Deno.test("hasDotSegment: . and .. segments, raw or percent-encoded", () => {
  for (const path of ["/a/../b", "/a/./b", "/a/..", "/..", "/a/%2e%2e/b", "/a/%2E./b", "/a/.%2e"]) {
    assert.ok(hasDotSegment(path), path);
  }
  for (const path of ["/a/b", "/a..b", "/a/.hidden", "/a/...", "/a%2F..%2Fb", "/"]) {
    assert.ok(!hasDotSegment(path), path);
  }
});

Deno.test("the middleware refuses a request whose URL keeps a dot segment", async () => {
  const app = new Hono();
  app.onError(problemErrorHandler());
  app.use("*", pathSegments());
  app.all("*", (c) => c.text("reached"));
  // A Request built from a string normalises `..` away, as fetch does; Deno.serve does not,
  // so the test hands the app a URL the way Deno.serve would (see tests/api/dot_segments_test.ts
  // for raw sockets against a real server).
  const req = new Request("http://h/v1/config/q/x");
  Object.defineProperty(req, "url", { value: "http://h/v1/config/q/../b" });
  const answer = await app.fetch(req);
  assert.equal(answer.status, 400);
  const problem = await answer.json();
  assert.equal(problem.type, "urn:edgeraft:problem:invalid-request");
  assert.match(problem.detail, /\.\. segment/);
  assert.equal((await app.request("/v1/config/a..b")).status, 200);
});
