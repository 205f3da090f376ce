/**
 * The worker that runs the client port's connection layer (`http_front.ts`): its accept loop,
 * head checks and byte copying run here, on another thread than the handlers and Raft.
 * Started by `serveClientPort`; it answers the main thread's requests by `id`.
 *
 * @module
 */

/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />

import { type FrontOptions, startFront } from "./http_front.ts";

let front: ReturnType<typeof startFront> | undefined;

self.onmessage = async (
  event: MessageEvent<
    & { id: number }
    & ({ type: "start"; options: FrontOptions } | { type: "connections" } | { type: "shutdown" })
  >,
) => {
  const message = event.data;
  const reply = (data: Record<string, unknown>) => self.postMessage({ ...data, id: message.id });
  if (message.type === "start") {
    try {
      front = startFront(message.options);
      reply({ type: "listening", addr: front.addr });
    } catch (e) {
      const error = e as Error;
      reply({ type: "error", name: error.name, message: error.message });
    }
  } else if (message.type === "connections") {
    reply({ type: "connections", connections: front?.connections() ?? 0 });
  } else {
    await front?.shutdown();
    reply({ type: "closed" });
  }
};
