/**
 * Watches whose catch-up is larger than the slow-consumer allowance (4 MiB), served over real
 * HTTP by the real app (issue 10, defect 5: such a watch used to answer 200 and then close
 * with 0 bytes, and so did every `Last-Event-ID` resume).
 *
 * @module
 */

import assert from "node:assert/strict";
import { EdgeraftClient } from "../../src/client/mod.ts";
import { freePort } from "../process/net.ts";
import { poll } from "../process/poll.ts";
import { makeApp, send } from "./harness.ts";

/** A value of about 200 KB, distinct per revision so that a mix-up shows. */
const bigValue = (i: number) => `${i}:`.padEnd(200_000, String.fromCharCode(97 + (i % 26)));

/** Events of one SSE body, read incrementally. */
class SseReader {
  readonly #reader: ReadableStreamDefaultReader<string>;
  #buffer = "";

  constructor(body: ReadableStream<Uint8Array>) {
    this.#reader = body.pipeThrough(new TextDecoderStream()).getReader();
  }

  /** The next event (comments skipped), or undefined when the stream ended. */
  async next(): Promise<{ id?: string; event?: string; data?: string } | undefined> {
    while (true) {
      const end = this.#buffer.indexOf("\n\n");
      if (end >= 0) {
        const block = this.#buffer.slice(0, end);
        this.#buffer = this.#buffer.slice(end + 2);
        const event: Record<string, string> = {};
        for (const line of block.split("\n")) {
          if (line.startsWith(":")) continue;
          const colon = line.indexOf(": ");
          event[line.slice(0, colon)] = line.slice(colon + 2);
        }
        if (event.event !== undefined) return event;
        continue;
      }
      const { done, value } = await this.#reader.read();
      if (done) return undefined;
      this.#buffer += value;
    }
  }

  async cancel(): Promise<void> {
    await this.#reader.cancel().catch(() => {});
  }
}

/** The app on a real port, with `count` big values under `big/` and small ones elsewhere. */
async function bigHistory(count: number) {
  const { app, node } = makeApp();
  const port = freePort();
  const server = Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, app.fetch);
  const revisions: number[] = [];
  for (let i = 0; i < count; i++) {
    const answer = await send(app, "PUT", `/v1/config/big/${i % 7}`, { json: bigValue(i) });
    assert.equal(answer.status, 200);
    revisions.push(answer.body.revision);
    if (i % 5 === 0) await send(app, "PUT", "/v1/config/other", { json: i });
  }
  return { app, node, server, base: `http://127.0.0.1:${port}`, revisions };
}

Deno.test("a watch whose catch-up is ~13 MB streams all of it in order, then goes live", async () => {
  const count = 64;
  const { app, node, server, base, revisions } = await bigHistory(count);
  try {
    const response = await fetch(`${base}/v1/watch?prefix=big/&fromRevision=1`);
    assert.equal(response.status, 200);
    const sse = new SseReader(response.body!);
    const seen: number[] = [];
    let bytes = 0;
    let live: Promise<unknown> | undefined;
    while (seen.length < count + 2) {
      const event = await sse.next();
      assert.ok(event, `the stream ended after ${seen.length} events (${bytes} bytes)`);
      const data = JSON.parse(event.data!);
      assert.equal(event.event, "put");
      assert.equal(Number(event.id), data.revision);
      if (seen.length < count) assert.equal(data.value, bigValue(seen.length));
      bytes += event.data!.length;
      seen.push(data.revision);
      // Writes that land while the catch-up is being read follow it, without a gap.
      if (seen.length === 10) {
        live = (async () => {
          await send(app, "PUT", "/v1/config/big/live1", { json: "a" });
          await send(app, "PUT", "/v1/config/other", { json: "skip" });
          await send(app, "PUT", "/v1/config/big/live2", { json: "b" });
        })();
      }
    }
    await live;
    await sse.cancel();
    assert.ok(bytes > 12 * 1024 * 1024, `caught up on ${bytes} bytes`);
    const end = node.sm.revision;
    assert.deepEqual(seen, [...revisions, end - 2, end]);
    await poll(() => node.listeners === 0 || undefined, { what: "the watch to unsubscribe" });
  } finally {
    await server.shutdown();
  }
});

Deno.test("Last-Event-ID in the middle of a large catch-up resumes right after it", async () => {
  const count = 48;
  const { server, base, revisions } = await bigHistory(count);
  try {
    const first = new SseReader((await fetch(`${base}/v1/watch?prefix=big/&fromRevision=1`)).body!);
    let lastId = "";
    for (let i = 0; i < 20; i++) lastId = (await first.next())!.id!;
    await first.cancel();
    assert.equal(lastId, String(revisions[19]));

    const response = await fetch(`${base}/v1/watch?prefix=big/&fromRevision=1`, {
      headers: { "last-event-id": lastId },
    });
    assert.equal(response.status, 200);
    const second = new SseReader(response.body!);
    const rest: number[] = [];
    for (let i = 20; i < count; i++) {
      const event = await second.next();
      assert.ok(event, `the resumed stream ended after ${rest.length} events`);
      const data = JSON.parse(event.data!);
      assert.equal(data.value, bigValue(i));
      rest.push(data.revision);
    }
    await second.cancel();
    assert.deepEqual(rest, revisions.slice(20));
  } finally {
    await server.shutdown();
  }
});

Deno.test("a live watcher that leaves more than 4 MiB unread is still disconnected", async () => {
  const { app, node } = makeApp();
  // In-process, so no socket buffer hides how much the watcher left unread.
  const response = await app.request("/v1/watch?prefix=big/");
  assert.equal(response.status, 200);
  const sse = new SseReader(response.body!);
  for (let i = 0; i < 30; i++) {
    await send(app, "PUT", `/v1/config/big/${i}`, { json: bigValue(i) });
  }
  await assert.rejects(async () => {
    while (await sse.next()) { /* the queue was dropped with the connection */ }
  }, /too slowly/);
  assert.equal(node.listeners, 0);
});

Deno.test("live changes reach a waiting reader once each", async () => {
  const { app } = makeApp();
  await send(app, "PUT", "/v1/config/w/a", { json: 1 });
  const response = await app.request("/v1/watch?prefix=w/&fromRevision=1");
  const sse = new SseReader(response.body!);
  assert.equal((await sse.next())?.id, "1");
  // The reader waits while changes are applied: queueing one lets the stream ask for more at
  // once, which must not send it again.
  const next = sse.next();
  await send(app, "PUT", "/v1/config/x", { json: 0 });
  await send(app, "PUT", "/v1/config/w/b", { json: 2 });
  await send(app, "DELETE", "/v1/config/w/a");
  const ids = [(await next)?.id, (await sse.next())?.id];
  await send(app, "PUT", "/v1/config/w/c", { json: 3 });
  ids.push((await sse.next())?.id);
  await sse.cancel();
  assert.deepEqual(ids, ["3", "4", "5"]);
});

Deno.test("the client's watch() receives a large catch-up whole, in order", async () => {
  const count = 40;
  const { server, base, revisions } = await bigHistory(count);
  try {
    const client = new EdgeraftClient({ baseUrl: base, retries: 1 });
    const controller = new AbortController();
    const seen: number[] = [];
    for await (const e of client.watch("big/", { fromRevision: 1, signal: controller.signal })) {
      assert.equal(e.type === "put" && e.value, bigValue(seen.length));
      seen.push(e.revision);
      if (seen.length === count) controller.abort();
    }
    assert.deepEqual(seen, revisions);
  } finally {
    await server.shutdown();
  }
});

Deno.test("the catch-up is read from history only as fast as the watcher takes it", async () => {
  const { app } = makeApp();
  for (let i = 0; i < 64; i++) {
    await send(app, "PUT", `/v1/config/big/${i}`, { json: bigValue(i) });
  }
  // The stream encodes each event as it queues it: counting encoded bytes counts what it holds.
  let encoded = 0;
  const encode = TextEncoder.prototype.encode;
  TextEncoder.prototype.encode = function (this: TextEncoder, text?: string) {
    const bytes = encode.call(this, text);
    encoded += bytes.length;
    return bytes;
  };
  try {
    const response = await app.request("/v1/watch?prefix=big/&fromRevision=1");
    const sse = new SseReader(response.body!);
    assert.equal((await sse.next())?.id, "1");
    // A reader that stopped reading: the stream's pulls run in microtasks, which all run before
    // the next turn of the event loop, so by then it has run as far ahead as it ever will.
    await new Promise((resolve) => setTimeout(resolve, 0));
    assert.ok(encoded < 1_000_000, `${encoded} bytes queued while the watcher took ~200 KB`);
    for (let i = 2; i <= 64; i++) assert.equal((await sse.next())?.id, String(i));
    await sse.cancel();
  } finally {
    TextEncoder.prototype.encode = encode;
  }
});
