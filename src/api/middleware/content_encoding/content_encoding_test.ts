import assert from "node:assert/strict";
import { Hono } from "hono";
import { problemErrorHandler } from "../problem_errors/problem_errors.ts";
import { contentEncoding } from "./content_encoding.ts";

function app() {
  const app = new Hono();
  app.onError(problemErrorHandler());
  app.use("*", contentEncoding());
  app.put("/", async (c) => c.text(await c.req.text()));
  app.get("/", (c) => c.text("got"));
  return app;
}

Deno.test("a body with a content coding is refused with 415 problem+json", async () => {
  for (const coding of ["gzip", "br", "deflate", "x-gzip", "identity, gzip", "GZIP"]) {
    const answer = await app().request("/", {
      method: "PUT",
      headers: { "content-type": "application/json", "content-encoding": coding },
      body: "{}",
    });
    assert.equal(answer.status, 415, coding);
    assert.equal(answer.headers.get("content-type"), "application/problem+json");
    assert.equal(answer.headers.get("accept-encoding"), "identity");
    const problem = await answer.json();
    assert.equal(problem.type, "urn:edgeraft:problem:unsupported-media-type");
    assert.match(problem.detail, /Content-Encoding/);
  }
});

Deno.test("identity, or no Content-Encoding, passes", async () => {
  for (const headers of [{}, { "content-encoding": "identity" }] as Record<string, string>[]) {
    const answer = await app().request("/", { method: "PUT", headers, body: "{}" });
    assert.equal(answer.status, 200);
    assert.equal(await answer.text(), "{}");
  }
});

Deno.test("a Content-Encoding header without a body is let be", async () => {
  const answer = await app().request("/", { headers: { "content-encoding": "gzip" } });
  assert.equal(answer.status, 200);
});
