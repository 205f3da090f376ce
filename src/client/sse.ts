/**
 * A minimal Server-Sent Events parser: enough for the watch stream (single-line `data:`,
 * `id:`, `event:`, comments).
 *
 * @module
 */

/**
 * One event of a stream.
 *
 * @example
 * ```ts
 * import type { SseMessage } from "./sse.ts";
 * const m: SseMessage = { event: "put", id: "3", data: "{}" };
 * ```
 */
export interface SseMessage {
  event: string;
  id?: string;
  data: string;
}

/**
 * The events of an SSE body, in order. Comments are not events: `options.onComment` sees their
 * text (the watch counts heartbeats as signs of a live connection). Ends when `signal` aborts.
 *
 * @example
 * ```ts
 * import { readSse } from "./sse.ts";
 * const body = new Response("event: put\nid: 1\ndata: {}\n\n").body!;
 * for await (const m of readSse(body)) console.log(m.event); // "put"
 * ```
 */
export async function* readSse(
  body: ReadableStream<Uint8Array>,
  signal?: AbortSignal,
  options: { onComment?: (text: string) => void } = {},
): AsyncGenerator<SseMessage> {
  // A TextDecoder rather than a TextDecoderStream: the streams' types disagree across runtimes'
  // libraries (TypeScript's DOM lib refuses the pipe), and older runtimes lack the stream.
  const reader = body.getReader();
  const decoder = new TextDecoder();
  // Not every fetch ends the body when its request is aborted; stop reading regardless.
  const stop = () => void reader.cancel().catch(() => {});
  signal?.addEventListener("abort", stop, { once: true });
  let buffer = "";
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true }).replaceAll("\r\n", "\n");
      let end: number;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const message: SseMessage = { event: "message", data: "" };
        const data: string[] = [];
        for (const line of block.split("\n")) {
          if (line.startsWith(":")) options.onComment?.(line.slice(1));
          if (line === "" || line.startsWith(":")) continue;
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
          if (field === "data") data.push(text);
          else if (field === "event") message.event = text;
          else if (field === "id") message.id = text;
        }
        if (data.length === 0) continue;
        message.data = data.join("\n");
        yield message;
      }
    }
  } finally {
    signal?.removeEventListener("abort", stop);
    await reader.cancel().catch(() => {});
  }
}
