import assert from "node:assert/strict";
import { Hono } from "hono";
import { memoryLogger } from "../../../node/logger.ts";
import type { ApiEnv } from "../../app_env.ts";
import { problemErrorHandler } from "../problem_errors/problem_errors.ts";
import { bodyLimit, readBounded } from "./body_limit.ts";

function app(max: number) {
  const app = new Hono<ApiEnv>();
  app.onError(problemErrorHandler());
  app.use("*", bodyLimit(() => max));
  app.all("*", (c) => c.text(String(c.get("body")?.byteLength ?? "none")));
  return app;
}

Deno.test("a body within the limit is read once into the context", async () => {
  const answer = await app(10).request("/", { method: "POST", body: "0123456789" });
  assert.equal(await answer.text(), "10");
});

Deno.test("a declared Content-Length over the limit is refused before reading", async () => {
  const answer = await app(4).request("/", { method: "PUT", body: "12345" });
  assert.equal(answer.status, 413);
  const problem = await answer.json();
  assert.equal(problem.limit, "maxBodyBytes");
  assert.match(problem.detail, /maxBodyBytes = 4/);
});

Deno.test("a streamed body is cut off once it passes the limit", async () => {
  let pulled = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulled++;
      controller.enqueue(new Uint8Array(1000));
      if (pulled > 1000) controller.close();
    },
  });
  await assert.rejects(readBounded(stream, 2500), /maxBodyBytes/);
  assert.ok(pulled < 10);
});

Deno.test("GET bodies are not read", async () => {
  const answer = await app(1).request("/", { method: "GET" });
  assert.equal(await answer.text(), "none");
});

Deno.test("a body the client abandons is a client-closed problem, logged as one info line", async () => {
  const log = memoryLogger();
  const app = new Hono<ApiEnv>();
  app.onError(problemErrorHandler(log));
  app.use("*", bodyLimit(() => 1024));
  app.put("/", (c) => c.text("read"));
  // A body stream that fails mid-way, as Deno's does when the client hangs up.
  for (const length of [undefined, "100"]) {
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new Uint8Array(10));
        controller.error(new Deno.errors.BadResource("Cannot read body"));
      },
    });
    const headers: Record<string, string> = length ? { "content-length": length } : {};
    const answer = await app.request(
      "/",
      { method: "PUT", body, headers, duplex: "half" } as RequestInit,
    );
    assert.equal(answer.status, 499);
    assert.equal((await answer.json()).type, "urn:edgeraft:problem:client-closed");
  }
  assert.deepEqual(log.lines, [
    { level: "info", event: "client went away" },
    { level: "info", event: "client went away" },
  ]);
});
