/**
 * Runs the model-based API test: starts a real node, lets several concurrent clients send
 * seeded random steps and compares every answer with the reference model, checks the shared
 * invariants at the end, and shrinks each kind of discrepancy to the shortest request sequence
 * that still shows it (replayed in a fresh namespace of the same node).
 *
 * @module
 */

import { clientSeed, StepGenerator } from "./generator.ts";
import { startModelNode } from "./model_node.ts";
import {
  ClientModel,
  type Discrepancy,
  keyPath,
  SharedLedger,
  type TraceLine,
} from "./reference_model.ts";
import { entitiesOf, requestsOf, SHARED_KEYS, type Step } from "./steps.ts";
import { type Answer, send, type WireRequest } from "./wire.ts";
import type { Json } from "./steps.ts";

/**
 * How to run.
 *
 * @example
 * ```ts
 * import type { RunOptions } from "./runner.ts";
 * const o: RunOptions = { seed: 7, requests: 10_000, clients: 8 };
 * ```
 */
export interface RunOptions {
  seed: number;
  /** How many requests the clients send in all (scenarios send several; the end adds reads). */
  requests: number;
  clients: number;
  /** Time to spend shrinking discrepancies, in all (default 60 s; 0: do not shrink). */
  shrinkBudgetMs?: number;
  /** Progress lines. */
  log?: (line: string) => void;
  /** Run the node of another checkout (see `startModelNode`). */
  nodeRoot?: string;
  /**
   * Nodes in the cluster (default 1). With more, client `i` talks to node `i mod n` and sends
   * the retry of a dropped request to the next node; stale reads are not generated (a follower's
   * may lag, which the model does not track).
   */
  nodes?: number;
  /**
   * Start the node without a tokens file (docs/api.md: an open node), so that the client port's
   * head shortcuts answer (`src/api/fast_*.ts`: they turn themselves off when tokens are set).
   * The model then expects no 401 or 403, and one owner of every idempotency key and session
   * whatever token a request carries; the generator sends alpha's, beta's, narrow's or none.
   * Even clients name their keys and locks `m<client>_<n>...`, which the shortcuts take; odd
   * ones `m<client>~<n>...`, which they decline (`~` is not in their plain names), so the
   * router's answers on an open node are compared too.
   */
  open?: boolean;
}

/**
 * One kind of discrepancy: its first occurrence, how often it occurred, and the shortest
 * sequence found that shows it.
 *
 * @example
 * ```ts
 * import type { Finding } from "./runner.ts";
 * const f: Finding = {
 *   first: { client: -1, step: -1, kind: "k", request: "", answer: "", expected: [] },
 *   count: 1,
 * };
 * ```
 */
export interface Finding {
  first: Discrepancy;
  count: number;
  /** The requests and answers of the shortest reproduction, when one was found. */
  shortest?: TraceLine[];
  /** Why there is no shortest sequence, when there is none. */
  shrinkNote?: string;
  /** The client's requests before the discrepancy (the tail), when shrinking did not work. */
  context?: TraceLine[];
}

/**
 * What a run did and found.
 *
 * @example
 * ```ts
 * import type { RunReport } from "./runner.ts";
 * const r: RunReport = {
 *   seed: 7, requests: 0, clients: 8, durationMs: 0, findings: [], command: "", steps: 0,
 * };
 * ```
 */
export interface RunReport {
  seed: number;
  /** Requests sent during the run (not counting shrinking). */
  requests: number;
  clients: number;
  steps: number;
  durationMs: number;
  findings: Finding[];
  /** The one command that replays this run. */
  command: string;
  /** How often each kind of accepted answer was seen. */
  coverage?: Map<string, number>;
  /** The node was open (no tokens). */
  open?: boolean;
}

interface NamespaceHistory {
  ns: string;
  steps: { index: number; step: Step }[];
}

/**
 * The command that replays a run.
 *
 * @example
 * ```ts
 * import { replayCommand } from "./runner.ts";
 * replayCommand({ seed: 7, requests: 10_000, clients: 8 });
 * // "deno task test:model --seed 7 --requests 10000 --clients 8"
 * replayCommand({ seed: 7, requests: 2000, clients: 8, open: true });
 * // "deno task test:model --seed 7 --requests 2000 --clients 8 --open"
 * ```
 */
export function replayCommand(
  o: Pick<RunOptions, "seed" | "requests" | "clients" | "nodeRoot" | "nodes" | "open">,
): string {
  const root = o.nodeRoot === undefined ? "" : ` --node-root ${o.nodeRoot}`;
  const nodes = (o.nodes ?? 1) === 1 ? "" : ` --nodes ${o.nodes}`;
  const open = o.open ? " --open" : "";
  return `deno task test:model --seed ${o.seed} --requests ${o.requests} --clients ${o.clients}` +
    nodes + open + root;
}

/**
 * The namespace of client `client`, generation `tag` (a number, or `s<n>` for shrinking): see
 * `RunOptions.open` for why an open run names half of them differently.
 *
 * @example
 * ```ts
 * import { namespaceOf } from "./runner.ts";
 * namespaceOf(3, 0, false); // "m3~0"
 * namespaceOf(2, "s1", true); // "m2_s1"
 * ```
 */
export function namespaceOf(client: number, tag: number | string, open: boolean): string {
  return `m${client}${open && client % 2 === 0 ? "_" : "~"}${tag}`;
}

/**
 * Runs the model test against a node it starts (and always stops).
 *
 * @example
 * ```ts ignore
 * import { formatReport, runModel } from "./runner.ts";
 * const report = await runModel({ seed: 1, requests: 2000, clients: 4 });
 * console.log(formatReport(report));
 * ```
 */
export async function runModel(options: RunOptions): Promise<RunReport> {
  const node = await startModelNode(options.nodeRoot, options.nodes ?? 1, options.open ?? false);
  try {
    return await runAgainst(node.urls, options);
  } finally {
    await node.stop();
  }
}

async function runAgainst(urls: string[], options: RunOptions): Promise<RunReport> {
  const log = options.log ?? (() => {});
  const started = Date.now();
  const url = urls[0];
  let sent = 0;
  const senderTo =
    (to: string) => async (req: WireRequest, signal?: AbortSignal): Promise<Answer | undefined> => {
      sent++;
      return await send(to, req, signal);
    };
  const home = (client: number) => senderTo(urls[client % urls.length]);
  const other = (client: number) => senderTo(urls[(client + 1) % urls.length]);
  const open = options.open ?? false;
  const ledger = new SharedLedger();
  ledger.remaining = options.requests;
  const findings = new Map<string, Finding & { history?: NamespaceHistory; client: number }>();
  const note = (found: Discrepancy[], history?: NamespaceHistory) => {
    for (const d of found) {
      const known = findings.get(d.kind);
      if (known) {
        known.count++;
        continue;
      }
      log(`discrepancy (client ${d.client}, step ${d.step}): ${d.kind}`);
      findings.set(d.kind, { first: d, count: 1, history, client: d.client });
    }
  };
  let steps = 0;
  let progressAt = Date.now();

  const runClient = async (client: number) => {
    const generator = new StepGenerator(clientSeed(options.seed, client), {
      staleReads: urls.length === 1,
      open,
    });
    let generation = 0;
    let history: NamespaceHistory = { ns: namespaceOf(client, generation, open), steps: [] };
    const fresh = (ns: string) =>
      new ClientModel(client, ns, ledger, home(client), other(client), urls.length > 1, open);
    let model = fresh(history.ns);
    for (let index = 0; ledger.remaining > 0; index++) {
      const step = generator.next(model, index);
      ledger.remaining -= requestsOf(step);
      history.steps.push({ index, step });
      steps++;
      const found = await model.perform(step, index);
      note(ledger.takeFound());
      if (found.length > 0) {
        note(found, { ns: history.ns, steps: [...history.steps] });
        // The server and the model now disagree about this namespace: go on in a fresh one,
        // so that one broken promise does not hide the others.
        history = { ns: namespaceOf(client, ++generation, open), steps: [] };
        model = fresh(history.ns);
      }
      if (Date.now() - progressAt > 5000) {
        progressAt = Date.now();
        log(`${sent} requests, ${findings.size} kinds of discrepancy`);
      }
    }
    note(await model.verifyAll(), history);
  };
  await Promise.all(Array.from({ length: options.clients }, (_, i) => runClient(i)));

  const finalReads = new Map<string, { revision: number; value: Json } | undefined>();
  for (let k = 0; k < SHARED_KEYS; k++) {
    const key = `shared/k${k}`;
    const a = await send(url, {
      method: "GET",
      path: keyPath(key, false),
      headers: {},
      token: "alpha",
    });
    sent++;
    finalReads.set(
      key,
      a?.status === 200 ? a.body as { revision: number; value: Json } : undefined,
    );
  }
  note(ledger.finish(finalReads));
  const requests = sent;
  const durationMs = Date.now() - started;

  let shrinkBudget = options.shrinkBudgetMs ?? 60_000;
  let attempt = 0;
  const result: Finding[] = [];
  for (const finding of findings.values()) {
    const { history, client, first, count } = finding;
    const out: Finding = { first, count };
    result.push(out);
    if (history === undefined || client < 0) {
      out.shrinkNote = "an invariant across clients: see the detail";
      continue;
    }
    out.context = first.context;
    if (shrinkBudget <= 0) {
      out.shrinkNote = "not shrunk (no time left)";
      continue;
    }
    const shrinkStarted = Date.now();
    const shrunk = await shrink(
      history,
      first,
      client,
      shrinkBudget,
      () => namespaceOf(client, `s${attempt++}`, open),
      home(client),
      other(client),
      open,
    );
    shrinkBudget -= Date.now() - shrinkStarted;
    if (shrunk.trace) out.shortest = shrunk.trace;
    else out.shrinkNote = shrunk.note;
    log(`shrunk "${first.kind}" to ${shrunk.trace?.length ?? "?"} requests`);
  }
  return {
    seed: options.seed,
    requests,
    clients: options.clients,
    steps,
    durationMs,
    findings: result,
    command: replayCommand(options),
    coverage: ledger.coverage,
    open,
  };
}

/** Steps that involve only the client's own namespace (shared ones depend on the others). */
function ownSteps(history: NamespaceHistory, upTo: number) {
  return history.steps.filter(({ step, index }) =>
    index === upTo || (!step.t.startsWith("shared") && index <= upTo)
  );
}

async function shrink(
  history: NamespaceHistory,
  target: Discrepancy,
  client: number,
  budgetMs: number,
  freshNs: () => string,
  sender: (req: WireRequest, signal?: AbortSignal) => Promise<Answer | undefined>,
  retrySender: (req: WireRequest, signal?: AbortSignal) => Promise<Answer | undefined>,
  open: boolean,
): Promise<{ trace?: TraceLine[]; note?: string }> {
  const deadline = Date.now() + budgetMs;
  const upTo = target.step < 0 ? Infinity : target.step;
  const reproduces = async (candidate: { index: number; step: Step }[]) => {
    const model = new ClientModel(
      client,
      freshNs(),
      new SharedLedger(),
      sender,
      retrySender,
      sender !== retrySender,
      open,
    );
    for (const { index, step } of candidate) {
      const found = await model.perform(step, index);
      if (found.some((d) => d.kind === target.kind)) return model.trace;
      if (found.length > 0) return undefined;
    }
    if (target.step < 0) {
      const found = await model.verifyAll();
      if (found.some((d) => d.kind === target.kind)) return model.trace;
    }
    return undefined;
  };
  let current = ownSteps(history, upTo);
  let trace = await reproduces(current);
  if (trace === undefined) {
    return { note: "did not reproduce alone in a fresh namespace (timing, or other clients)" };
  }
  // First only the steps that touch what the failing step touches: usually a few.
  const byIndex = new Map(current.map(({ index, step }) => [index, step]));
  const failing = current.at(-1);
  if (failing !== undefined && target.step >= 0) {
    const touched = new Set(entitiesOf(failing.step, (i) => byIndex.get(i)));
    const related = current.filter(({ step }) =>
      entitiesOf(step, (i) => byIndex.get(i)).some((e) => touched.has(e) || e === "all")
    );
    if (related.length < current.length) {
      const t = await reproduces(related);
      if (t !== undefined) [current, trace] = [related, t];
    }
  }
  let chunk = Math.max(1, Math.ceil(current.length / 2));
  while (Date.now() < deadline) {
    let removed = false;
    for (let start = 0; start < current.length && Date.now() < deadline; start += chunk) {
      const candidate = [...current.slice(0, start), ...current.slice(start + chunk)];
      if (candidate.length === 0) continue;
      const t = await reproduces(candidate);
      if (t !== undefined) {
        current = candidate;
        trace = t;
        removed = true;
        start -= chunk;
      }
    }
    if (!removed) {
      if (chunk === 1) break;
      chunk = Math.ceil(chunk / 2);
    }
  }
  return { trace };
}

/**
 * How often each kind of answer was seen and accepted, one per line: what a run exercised.
 *
 * @example
 * ```ts
 * import { formatCoverage } from "./runner.ts";
 * formatCoverage({
 *   seed: 7, requests: 10, clients: 1, steps: 10, durationMs: 5, findings: [], command: "x",
 *   coverage: new Map([["get: 404 not-found", 3]]),
 * });
 * ```
 */
export function formatCoverage(report: RunReport): string {
  const entries = [...(report.coverage ?? new Map<string, number>())]
    .sort((a, b) => a[0] < b[0] ? -1 : 1);
  return entries.map(([what, n]) => `${String(n).padStart(7)}  ${what}`).join("\n");
}

/**
 * The report as text: what ran, and each kind of discrepancy with its shortest sequence.
 *
 * @example
 * ```ts
 * import { formatReport } from "./runner.ts";
 * formatReport({
 *   seed: 7, requests: 10, clients: 1, steps: 10, durationMs: 5, findings: [], command: "x",
 * });
 * ```
 */
export function formatReport(report: RunReport): string {
  const lines = [
    `model test${report.open ? " (open node)" : ""}: seed ${report.seed}, ${report.requests} ` +
    `requests (${report.steps} steps) from ${report.clients} clients in ${
      (report.durationMs / 1000).toFixed(1)
    } s: ` +
    (report.findings.length === 0
      ? "every answer as promised"
      : `${report.findings.length} kind(s) of discrepancy`),
  ];
  if (report.findings.length === 0) return lines.join("\n");
  lines.push(`replay: ${report.command}`);
  report.findings.forEach((f, i) => {
    const d = f.first;
    lines.push("");
    lines.push(`[${i + 1}] ${d.kind} (${f.count}x)`);
    if (d.client >= 0) lines.push(`  first at client ${d.client}, step ${d.step}`);
    if (d.request) lines.push(`  request: ${d.request}`);
    lines.push(`  answer:  ${d.answer}`);
    if (f.shortest) {
      lines.push(`  shortest sequence (${f.shortest.length} requests, in a fresh namespace):`);
      f.shortest.forEach((t, n) => {
        lines.push(`    ${n + 1}. ${t.request}`);
        lines.push(`       -> ${t.answer}`);
      });
    } else if (f.shrinkNote) {
      lines.push(`  (${f.shrinkNote})`);
      if (f.context && f.context.length > 0) {
        lines.push(`  the client's last requests before it:`);
        for (const t of f.context) {
          lines.push(`    ${t.request}`);
          lines.push(`       -> ${t.answer}`);
        }
      }
    }
  });
  return lines.join("\n");
}
