import assert from "node:assert/strict";
import { makeApp, send } from "./harness.ts";

interface SseEvent {
  id?: string;
  event?: string;
  data?: string;
  comment?: string;
}

/** Reads SSE blocks from a response until `done` says stop (or the stream ends). */
async function readEvents(
  response: Response,
  done: (events: SseEvent[]) => boolean,
  ms = 2000,
): Promise<SseEvent[]> {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  const events: SseEvent[] = [];
  let buffer = "";
  const deadline = AbortSignal.timeout(ms);
  try {
    while (!done(events)) {
      const chunk = await Promise.race([
        reader.read(),
        new Promise<never>((_, reject) =>
          deadline.addEventListener("abort", () => reject(new Error("no event in time")))
        ),
      ]);
      if (chunk.done) break;
      buffer += chunk.value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event: SseEvent = {};
        for (const line of block.split("\n")) {
          if (line.startsWith(":")) event.comment = line.slice(1).trim();
          else {
            const [field, ...rest] = line.split(": ");
            (event as Record<string, string>)[field] = rest.join(": ");
          }
        }
        events.push(event);
      }
    }
  } finally {
    await reader.cancel();
  }
  return events;
}

const changes = (events: SseEvent[]) => events.filter((e) => e.event !== undefined);

Deno.test("watch catches up from a revision, then streams live changes, without gaps", async () => {
  const { app, node } = makeApp();
  await send(app, "PUT", "/v1/config/app/a", { json: 1 });
  await send(app, "PUT", "/v1/config/other", { json: 2 });
  await send(app, "PUT", "/v1/config/app/b", { json: 3 });
  const response = await app.request("/v1/watch?prefix=app/&fromRevision=1");
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "text/event-stream; charset=utf-8");
  assert.equal(response.headers.get("x-revision"), "3");
  assert.equal(response.headers.get("cache-control"), "no-store");
  const reading = readEvents(response, (e) => changes(e).length >= 4);
  await send(app, "DELETE", "/v1/config/app/a");
  await send(app, "PUT", "/v1/config/other", { json: 4 });
  await send(app, "PUT", "/v1/config/app/c", { json: 5 });
  const events = changes(await reading);
  assert.deepEqual(events.map((e) => [e.id, e.event]), [
    ["1", "put"],
    ["3", "put"],
    ["4", "delete"],
    ["6", "put"],
  ]);
  assert.deepEqual(JSON.parse(events[0].data!), {
    key: "app/a",
    value: 1,
    revision: 1,
    createRevision: 1,
    version: 1,
  });
  assert.deepEqual(JSON.parse(events[2].data!), { key: "app/a", revision: 4 });
  assert.equal(node.listeners, 0);
});

Deno.test("Last-Event-ID resumes after that revision (and wins over fromRevision)", async () => {
  const { app } = makeApp();
  for (let i = 1; i <= 4; i++) await send(app, "PUT", `/v1/config/k${i}`, { json: i });
  const response = await app.request("/v1/watch?fromRevision=1", {
    headers: { "last-event-id": "2" },
  });
  const events = changes(await readEvents(response, (e) => changes(e).length >= 2));
  assert.deepEqual(events.map((e) => e.id), ["3", "4"]);
  const bad = await send(app, "GET", "/v1/watch", { headers: { "last-event-id": "x" } });
  assert.equal(bad.status, 400);
});

Deno.test("without a start revision the watch begins with the next change", async () => {
  const { app } = makeApp();
  await send(app, "PUT", "/v1/config/old", { json: 1 });
  const response = await app.request("/v1/watch");
  const reading = readEvents(response, (e) => changes(e).length >= 1);
  await send(app, "PUT", "/v1/config/new", { json: 2 });
  const [event] = changes(await reading);
  assert.equal(JSON.parse(event.data!).key, "new");
});

Deno.test("a watch from compacted history gets an explicit compacted event, then the end", async () => {
  const { app, node } = makeApp({}, { historyLimit: 2 });
  for (let i = 1; i <= 5; i++) await send(app, "PUT", `/v1/config/k${i}`, { json: i });
  const response = await app.request("/v1/watch?fromRevision=2");
  const events = await readEvents(response, () => false);
  const compacted = events.find((e) => e.event === "compacted");
  assert.ok(compacted);
  assert.deepEqual(JSON.parse(compacted.data!), { compactedRevision: 3, fromRevision: 2 });
  assert.equal(changes(events).length, 1);
  assert.equal(node.listeners, 0);
});

Deno.test("idle watches get comment heartbeats", async () => {
  const { app } = makeApp({ watchHeartbeatMs: 20 });
  const response = await app.request("/v1/watch");
  const events = await readEvents(response, (e) => e.some((x) => x.comment === "heartbeat"));
  assert.ok(events[0].comment?.startsWith("watching"));
});

Deno.test("watch parameters are validated; maxWatchers bounds open streams (429)", async () => {
  const { app } = makeApp({ limits: { maxWatchers: 1 } });
  for (const query of ["fromRevision=-1", "fromRevision=1.5", "fromRevision=abc"]) {
    assert.equal((await send(app, "GET", `/v1/watch?${query}`)).status, 400, query);
  }
  const long = await send(app, "GET", `/v1/watch?prefix=${"p".repeat(1025)}`);
  assert.equal(long.status, 400);
  assert.equal(long.body.limit, "maxKeyBytes");
  const open = await app.request("/v1/watch");
  const refused = await send(app, "GET", "/v1/watch");
  assert.equal(refused.status, 429);
  assert.equal(refused.body.limit, "maxWatchers");
  await open.body!.cancel();
  const again = await app.request("/v1/watch");
  assert.equal(again.status, 200);
  await again.body!.cancel();
});
