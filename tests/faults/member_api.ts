/**
 * The membership routes (`/v1/members`, `/v1/leader/transfer`) as the fault harness and the
 * process tests call them: every answer comes back as a status and a body, never thrown, so
 * that a caller decides what a refusal or an unknown outcome means for it.
 *
 * @module
 */

/**
 * One member as `GET /v1/members` lists it.
 *
 * @example
 * ```ts
 * import type { MemberInfo } from "./member_api.ts";
 * const m: MemberInfo = { id: 4, peerUrl: "http://127.0.0.1:7104",
 *   clientUrl: "http://127.0.0.1:7004", role: "learner", matchIndex: 12, lastContactMs: 3 };
 * ```
 */
export interface MemberInfo {
  id: number;
  peerUrl: string;
  clientUrl: string;
  role: "voter" | "learner";
  matchIndex?: number;
  lastContactMs?: number | null;
}

/**
 * An answer: `status` 0 when none came (a connection error or a timeout: the outcome of a
 * change is then unknown).
 *
 * @example
 * ```ts
 * import type { MemberAnswer } from "./member_api.ts";
 * const a: MemberAnswer = { status: 409, body: { type: ".../not-caught-up" } };
 * ```
 */
export interface MemberAnswer {
  status: number;
  body: unknown;
}

/**
 * Calls a membership route on `clientUrl` (JSON in, JSON out).
 *
 * @example
 * ```ts ignore
 * const answer = await memberCall("http://127.0.0.1:7001", "POST", "/v1/members/4/promote");
 * ```
 */
export async function memberCall(
  clientUrl: string,
  method: string,
  path: string,
  body?: unknown,
  timeoutMs = 10_000,
): Promise<MemberAnswer> {
  try {
    const res = await fetch(`${clientUrl}${path}`, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text === "" ? null : JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    return { status: res.status, body: parsed };
  } catch (error) {
    return { status: 0, body: String(error) };
  }
}

/**
 * The member list as node `clientUrl` answers it, or undefined when it does not.
 *
 * @example
 * ```ts ignore
 * const members = await listMembers("http://127.0.0.1:7001");
 * ```
 */
export async function listMembers(
  clientUrl: string,
  timeoutMs = 3000,
): Promise<MemberInfo[] | undefined> {
  const answer = await memberCall(clientUrl, "GET", "/v1/members", undefined, timeoutMs);
  return answer.status === 200 && Array.isArray(answer.body)
    ? answer.body as MemberInfo[]
    : undefined;
}

/**
 * The refusal's code: the last segment of its problem type (`urn:edgeraft:problem:not-caught-up`
 * gives `not-caught-up`), or the status as text when the body names none.
 *
 * @example
 * ```ts
 * import { refusalCode } from "./member_api.ts";
 * refusalCode({ status: 409, body: { type: "urn:edgeraft:problem:not-caught-up" } }); // "not-caught-up"
 * ```
 */
export function refusalCode(answer: MemberAnswer): string {
  const type = (answer.body as { type?: unknown } | null)?.type;
  const code = typeof type === "string" ? /[^:/]+$/.exec(type)?.[0] : undefined;
  if (code) return code;
  return answer.status === 0 ? "no answer" : `status ${answer.status}`;
}

/**
 * A short description of an answer for a log line.
 *
 * @example
 * ```ts
 * import { describeAnswer } from "./member_api.ts";
 * describeAnswer({ status: 200, body: { removed: 2 } }); // 200 {"removed":2}
 * ```
 */
export function describeAnswer(answer: MemberAnswer): string {
  const detail = (answer.body as { detail?: unknown } | null)?.detail;
  const text = typeof detail === "string" ? detail : JSON.stringify(answer.body);
  return `${answer.status} ${(text ?? "").slice(0, 200)}`;
}
