/**
 * The config + watch workload: writers put and delete keys under `watch/` through random
 * nodes while watchers follow `GET /v1/watch?prefix=watch/` (Server-Sent Events). A watcher
 * whose stream ends reconnects to a random node with `Last-Event-ID`, and every few seconds
 * a watcher moves to another node on purpose, so resumption across nodes is exercised.
 * Checked by `checkers/watch_checker.ts`.
 *
 * @module
 */

import { setTimeout as delay } from "node:timers/promises";
import { checkWatches, type SeenChange, type WatcherLog } from "../checkers/watch_checker.ts";
import { callJson, whyNot } from "./http_call.ts";
import {
  OPERATION_TIMEOUT_MS,
  type Workload,
  type WorkloadContext,
  type WorkloadVerdict,
} from "./workload.ts";

const PREFIX = "watch/";
const KEYS = 6;
const WATCHERS = 3;
/** How long the final phase waits for every watcher to reach the cluster's revision. */
const CATCH_UP_MS = 20_000;

interface Watcher {
  log: WatcherLog;
  /** The next revision it expects (what `Last-Event-ID` resumes after). */
  next: number;
  connections: number;
}

/**
 * Parses one Server-Sent Event block into its fields (comments dropped).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseSseBlock } from "./watch.ts";
 * assert.deepEqual(parseSseBlock('id: 3\nevent: put\ndata: {"a":1}'),
 *   { id: "3", event: "put", data: '{"a":1}' });
 * ```
 */
export function parseSseBlock(block: string): { id?: string; event?: string; data?: string } {
  const fields: { id?: string; event?: string; data?: string } = {};
  for (const line of block.split("\n")) {
    if (line === "" || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const name = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (name === "id" || name === "event") fields[name] = value;
    if (name === "data") {
      fields.data = fields.data === undefined ? value : `${fields.data}\n${value}`;
    }
  }
  return fields;
}

/**
 * Creates the config + watch workload.
 *
 * @example
 * ```ts ignore
 * const workload = watchWorkload();
 * ```
 */
export function watchWorkload(): Workload {
  const acked: SeenChange[] = [];
  const watchers: Watcher[] = [];
  let nextValue = 1;
  let finalRevision = 0;
  let stopWatching = new AbortController();

  /** One connection; returns when the stream ends, fails, or `until` aborts. */
  const follow = async (
    ctx: WorkloadContext,
    watcher: Watcher,
    node: number,
    until: AbortSignal,
  ) => {
    watcher.connections++;
    const headers: Record<string, string> = { accept: "text/event-stream" };
    if (watcher.next > watcher.log.fromRevision) {
      headers["last-event-id"] = String(watcher.next - 1);
    }
    const url = `${
      ctx.cluster.clientUrl(node)
    }/v1/watch?prefix=${PREFIX}&fromRevision=${watcher.next}`;
    const signal = AbortSignal.any([until, AbortSignal.timeout(60_000)]);
    let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
    // Cancel the reader by hand: an aborted fetch does not always end a body being read.
    const onAbort = () => void reader?.cancel().catch(() => {});
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      const res = await fetch(url, { headers, signal });
      if (!res.ok || !res.body) {
        await res.body?.cancel();
        return;
      }
      reader = res.body.getReader();
      if (signal.aborted) onAbort();
      const decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        buffer += decoder.decode(value, { stream: true });
        let end: number;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const fields = parseSseBlock(block);
          if (fields.event === "compacted") {
            const data = JSON.parse(fields.data ?? "{}") as { compactedRevision: number };
            watcher.next = data.compactedRevision + 1;
            watcher.log.entries.push({ compacted: true, resumeFrom: watcher.next });
            return;
          }
          if (fields.event !== "put" && fields.event !== "delete") continue;
          const data = JSON.parse(fields.data ?? "{}") as { key: string; value?: unknown };
          const change: SeenChange = {
            revision: Number(fields.id),
            type: fields.event,
            key: data.key,
          };
          if (fields.event === "put") change.value = data.value as SeenChange["value"];
          watcher.log.entries.push(change);
          watcher.next = Math.max(watcher.next, change.revision + 1);
        }
      }
    } catch {
      // the node went away, the run is ending, or it is time to move: resume elsewhere
    } finally {
      signal.removeEventListener("abort", onAbort);
      reader?.cancel().catch(() => {});
    }
  };

  const watch = async (ctx: WorkloadContext, watcher: Watcher) => {
    const stop = stopWatching.signal;
    while (!stop.aborted) {
      const node = ctx.prng.pick(ctx.cluster.ids);
      const move = AbortSignal.any([stop, AbortSignal.timeout(2000 + ctx.prng.int(4000))]);
      await follow(ctx, watcher, node, move);
      if (!stop.aborted) await delay(20);
    }
  };

  const writer = async (ctx: WorkloadContext, process: number, signal: AbortSignal) => {
    while (!signal.aborted) {
      const key = `${PREFIX}k${ctx.prng.int(KEYS)}`;
      const node = ctx.prng.pick(ctx.cluster.ids);
      const url = `${ctx.cluster.clientUrl(node)}/v1/config/${key}`;
      const options = { timeoutMs: OPERATION_TIMEOUT_MS, ambiguous503: ctx.ambiguous503 };
      if (ctx.prng.chance(0.1)) {
        ctx.history.invoke(process, "delete", key, null);
        const outcome = await callJson(url, { method: "DELETE" }, options);
        if (outcome.kind === "ok") {
          acked.push({ revision: outcome.body.revision as number, type: "delete", key });
          ctx.history.ok(process, "delete", key, null);
        } else if (outcome.kind === "refused") ctx.history.fail(process, "delete", key, null);
        else ctx.history.info(process, "delete", key, null);
        if (outcome.kind !== "ok") {
          ctx.explain(process, "delete", key, whyNot(outcome));
          await delay(50);
        }
        continue;
      }
      const value = nextValue++;
      ctx.history.invoke(process, "write", key, value);
      const outcome = await callJson(url, { method: "PUT", body: value }, options);
      if (outcome.kind === "ok") {
        acked.push({ revision: outcome.body.revision as number, type: "put", key, value });
        ctx.history.ok(process, "write", key, value);
      } else if (outcome.kind === "refused") ctx.history.fail(process, "write", key, value);
      else ctx.history.info(process, "write", key, value);
      if (outcome.kind !== "ok") {
        ctx.explain(process, "write", key, whyNot(outcome));
        await delay(50);
      }
    }
  };

  /**
   * The cluster's revision before the first write of the run, read linearizably (retried
   * through the nodes until one answers). The watchers start after it: the revisions up to it
   * are the preloaded state (`--preload`, under another prefix), which a watch of `watch/`
   * never delivers and the checker must not count as a gap.
   */
  const revisionBefore = async (ctx: WorkloadContext, signal: AbortSignal) => {
    for (let attempt = 0; !signal.aborted; attempt++) {
      const ids = ctx.cluster.ids;
      const outcome = await callJson(
        `${ctx.cluster.clientUrl(ids[attempt % ids.length])}/v1/config?prefix=${PREFIX}&limit=1`,
        { method: "GET" },
        { timeoutMs: OPERATION_TIMEOUT_MS, signal },
      );
      if (outcome.kind === "ok") return outcome.body.revision as number;
      await delay(100);
    }
    return undefined;
  };

  let watching: Promise<unknown> = Promise.resolve();
  return {
    name: "watch",
    async run(ctx, signal) {
      stopWatching = new AbortController();
      const before = await revisionBefore(ctx, signal);
      if (before === undefined) return;
      // Nothing else writes during the run: every revision after `before` is a write of ours.
      for (let i = 0; i < WATCHERS; i++) {
        watchers.push({
          log: { watcher: i + 1, fromRevision: before + 1, entries: [] },
          next: before + 1,
          connections: 0,
        });
      }
      watching = Promise.all(watchers.map((w) => watch(ctx, w)));
      const writers = Math.max(1, ctx.clients - 1);
      await Promise.all(Array.from({ length: writers }, (_, i) => writer(ctx, i + 1, signal)));
    },
    async finish(ctx) {
      const leader = await ctx.cluster.currentLeader() ?? ctx.cluster.ids[0];
      const outcome = await callJson(
        `${ctx.cluster.clientUrl(leader)}/v1/config?prefix=${PREFIX}&limit=1`,
        { method: "GET" },
        { timeoutMs: 5000 },
      );
      if (outcome.kind === "ok") finalRevision = outcome.body.revision as number;
      const deadline = Date.now() + CATCH_UP_MS;
      while (Date.now() < deadline && watchers.some((w) => w.next <= finalRevision)) {
        await delay(100);
      }
      stopWatching.abort();
      await watching;
    },
    check(ctx): WorkloadVerdict {
      const result = checkWatches({
        acked,
        watchers: watchers.map((w) => w.log),
        finalRevision,
      });
      const details = [...result.violations];
      if (finalRevision === 0) details.push("could not read the final revision");
      // No revision to start from: the run ended before any node answered; nothing to judge.
      if (watchers.length === 0) {
        return {
          valid: "unknown",
          opsChecked: 0,
          details: ["no node told the revision before the run: no watcher started"],
        };
      }
      const valid = details.length === 0;
      if (valid) {
        details.push(
          `${acked.length} acknowledged changes, ${result.eventsChecked} deliveries to ` +
            `${watchers.length} watchers up to revision ${finalRevision}: complete and in order`,
        );
      }
      const writes = ctx.history.events.filter((e) => e.type !== "invoke").length;
      return {
        valid,
        opsChecked: writes + result.eventsChecked,
        details,
        stats: {
          acked: acked.length,
          deliveries: result.eventsChecked,
          finalRevision,
          reconnections: watchers.reduce((sum, w) => sum + w.connections, 0),
        },
        files: {
          "watch.jsonl":
            watchers.flatMap((w) =>
              w.log.entries.map((e) => JSON.stringify({ watcher: w.log.watcher, ...e }))
            ).join("\n") + "\n",
        },
      };
    },
  };
}
