/**
 * One HTTP call of a fault-run client, reduced to what the history needs: did it happen
 * (`ok`), certainly not happen (`refused`: the state machine said no, or the node said it
 * proposed nothing), or is its outcome unknown (`unknown`: a timeout, any connection error,
 * a 504 or a 500).
 *
 * A 503 is the node's "no leader: retry" (NoLeaderError: the caller may retry), so by the
 * API's word nothing was applied and it counts as `refused`. If a 503 ever hides an applied
 * write, the checkers catch it: that is a bug worth finding, not noise to absorb. Runs can
 * pass `ambiguous503` to count it as unknown instead.
 *
 * @module
 */

/**
 * The classified outcome of a call.
 *
 * @example
 * ```ts
 * import type { CallOutcome } from "./http_call.ts";
 * const o: CallOutcome = { kind: "refused", status: 412, body: {}, why: "precondition" };
 * ```
 */
export type CallOutcome =
  | { kind: "ok"; status: number; body: Record<string, unknown>; headers: Headers }
  | { kind: "refused"; status: number; body: unknown; why: string }
  | { kind: "unknown"; why: string };

/**
 * How a call is made and judged.
 *
 * @example
 * ```ts
 * import type { CallOptions } from "./http_call.ts";
 * const o: CallOptions = { timeoutMs: 3000, ambiguous503: false };
 * ```
 */
export interface CallOptions {
  timeoutMs: number;
  /** Count a 503 as unknown rather than refused. */
  ambiguous503?: boolean;
  /** Ends the call early (the end of a run); its outcome is then unknown. */
  signal?: AbortSignal;
}

/**
 * Calls `url` with a JSON body (when given) and classifies the answer.
 *
 * @example
 * ```ts ignore
 * const outcome = await callJson("http://127.0.0.1:7001/v1/config/k", {
 *   method: "PUT", body: 5,
 * }, { timeoutMs: 3000 });
 * ```
 */
export async function callJson(
  url: string,
  request: { method: string; body?: unknown; headers?: Record<string, string> },
  options: CallOptions,
): Promise<CallOutcome> {
  const signals = [AbortSignal.timeout(options.timeoutMs)];
  if (options.signal) signals.push(options.signal);
  let res: Response;
  try {
    res = await fetch(url, {
      method: request.method,
      headers: {
        ...(request.body !== undefined ? { "content-type": "application/json" } : {}),
        ...request.headers,
      },
      body: request.body !== undefined ? JSON.stringify(request.body) : undefined,
      signal: AbortSignal.any(signals),
    });
  } catch (error) {
    // Even "connection refused" is no proof that nothing was sent: fetch retries a request
    // whose pooled keep-alive connection died under it (the node was killed mid-request), and
    // reports the retry's failure. Seen in the campaign: such writes took effect.
    const message = `${error} ${(error as Error).cause ?? ""}`;
    return { kind: "unknown", why: message.replace(/\s+/g, " ").slice(0, 300) };
  }
  let body: unknown;
  try {
    const text = await res.text();
    body = text === "" ? null : JSON.parse(text);
  } catch (error) {
    return { kind: "unknown", why: `status ${res.status}, body lost: ${error}` };
  }
  if (res.status >= 200 && res.status < 300) {
    return {
      kind: "ok",
      status: res.status,
      body: body as Record<string, unknown>,
      headers: res.headers,
    };
  }
  const detail = (body as { detail?: string } | null)?.detail ?? "";
  if (res.status === 503 && !options.ambiguous503) {
    return { kind: "refused", status: 503, body, why: `503 ${detail}` };
  }
  if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 499) {
    return { kind: "refused", status: res.status, body, why: `${res.status} ${detail}` };
  }
  return { kind: "unknown", why: `${res.status} ${detail}` };
}

/**
 * Why a call did not succeed, in a few words (empty for a success).
 *
 * @example
 * ```ts
 * import { whyNot } from "./http_call.ts";
 * whyNot({ kind: "unknown", why: "timed out" }); // "unknown: timed out"
 * ```
 */
export function whyNot(outcome: CallOutcome): string {
  return outcome.kind === "ok" ? "" : `${outcome.kind}: ${outcome.why}`;
}
