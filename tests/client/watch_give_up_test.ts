/**
 * A watch that cannot make progress gives up with an error instead of reconnecting forever
 * (issue 10, defect 5: the client's `watch()` reconnected 202 times in 8 s without yielding or
 * throwing against a stream that closed before its first event).
 *
 * @module
 */

import assert from "node:assert/strict";
import { EdgeraftClient, EdgeraftError, WatchFailedError } from "../../src/client/mod.ts";

const sse = (text: string) =>
  new Response(text, {
    headers: { "content-type": "text/event-stream", "x-revision": "9" },
  });

/** A network round trip takes a turn of the event loop, so timers (and an abort) can fire. */
const nextTurn = () => new Promise((resolve) => setTimeout(resolve, 1));

const event = (revision: number) =>
  `id: ${revision}\nevent: put\ndata: ${
    JSON.stringify({ key: "k", value: revision, revision, createRevision: 1, version: revision })
  }\n\n`;

Deno.test("a watch yields what it got, then gives up after bounded retries without progress", async () => {
  const urls: string[] = [];
  const client = new EdgeraftClient({
    baseUrl: "http://n1.test",
    retries: 3,
    fetch: async (request) => {
      urls.push(request.url);
      await nextTurn();
      // The first connection delivers two events and breaks; every later one is answered 200
      // and closed before its first byte, as a server did with a catch-up over 4 MiB.
      return sse(urls.length === 1 ? `: watching\n\n${event(4)}${event(5)}` : "");
    },
  });
  const seen: number[] = [];
  const error = await (async () => {
    for await (const e of client.watch("k", { signal: AbortSignal.timeout(5000) })) {
      seen.push(e.revision);
    }
  })().catch((e) => e);
  assert.deepEqual(seen, [4, 5]);
  assert.ok(error instanceof WatchFailedError, `expected WatchFailedError, got ${error}`);
  assert.ok(error instanceof EdgeraftError);
  assert.equal(error.kind, "watch-failed");
  assert.equal(error.attempts, 4);
  assert.equal(error.nextRevision, 6);
  assert.equal(urls.length, 5, "one connection that worked, then 1 + 3 retries");
  assert.ok(urls.slice(1).every((url) => new URL(url).searchParams.get("fromRevision") === "6"));
});

Deno.test("a watch without a start resumes after the X-Revision it first got", async () => {
  const urls: string[] = [];
  const client = new EdgeraftClient({
    baseUrl: "http://n1.test",
    retries: 1,
    // deno-lint-ignore require-await
    fetch: async (request) => {
      urls.push(request.url);
      return sse(": watching\n\n");
    },
  });
  await assert.rejects(async () => {
    for await (const _ of client.watch("k")) { /* nothing comes */ }
  }, WatchFailedError);
  assert.equal(new URL(urls[0]).searchParams.get("fromRevision"), null);
  assert.equal(new URL(urls[1]).searchParams.get("fromRevision"), "10");
});

Deno.test("heartbeats count as progress: an idle watch that is cut now and then keeps going", async () => {
  let connections = 0;
  const controller = new AbortController();
  const client = new EdgeraftClient({
    baseUrl: "http://n1.test",
    retries: 1,
    // deno-lint-ignore require-await
    fetch: async () => {
      if (++connections === 6) controller.abort();
      return sse(": watching\n\n: heartbeat\n\n");
    },
  });
  for await (const _ of client.watch("k", { signal: controller.signal })) { /* none */ }
  assert.equal(connections, 6);
});

/** A fetch that answers only when aborted, as a paused node does. */
const paused = (request: Request) =>
  new Promise<Response>((_, reject) => {
    request.signal.addEventListener("abort", () => reject(request.signal.reason), { once: true });
  });

Deno.test("a watch does not hang on a paused node: no headers, or silence, moves it on", async () => {
  const origins: string[] = [];
  const client = new EdgeraftClient({
    baseUrl: ["http://paused.test", "http://silent.test", "http://ok.test"],
    timeoutMs: 100,
    watchIdleMs: 100,
    fetch: async (request) => {
      const origin = new URL(request.url).host;
      origins.push(origin);
      if (origin === "paused.test") return await paused(request);
      // Headers, then nothing at all: the connection died without a word.
      if (origin === "silent.test") return silentStream();
      return sse(`: watching\n\n${event(10)}`);
    },
  });
  for await (const e of client.watch("k", { signal: AbortSignal.timeout(5000) })) {
    assert.equal(e.revision, 10);
    break;
  }
  assert.deepEqual(origins, ["paused.test", "silent.test", "ok.test"]);
});

function silentStream(): Response {
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(new TextEncoder().encode(": watching\n\n"));
    },
  });
  return new Response(body, { headers: { "content-type": "text/event-stream" } });
}
