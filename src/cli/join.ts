/**
 * `--join`: how a new node becomes a member of a running cluster through any member's client
 * API. It asks to be added as a learner (`POST /v1/members`) unless a member with its peer URL
 * exists already (the operator added it, or an earlier attempt got that far), then downloads a
 * snapshot that includes it (`GET /v1/snapshot`) for its storage to start from. While the
 * cluster has no leader (503), or a change is under way (409 `change-in-progress`), or the
 * outcome of the add is unknown (504), it asks again, until a deadline; anything else it is
 * told (an unreachable URL, a refusal) ends the join with one sentence (`JoinError`).
 *
 * @module
 */

import type { NodeId } from "../raft/types.ts";
import { type Backup, BackupFileError, decodeBackup } from "../storage/backup_file.ts";

/**
 * What the join needs to know.
 *
 * @example
 * ```ts
 * import type { JoinRequest } from "./join.ts";
 * const req: JoinRequest = {
 *   urls: ["http://127.0.0.1:7001"],
 *   peerUrl: "http://127.0.0.1:7104",
 *   clientUrl: "http://127.0.0.1:7004",
 * };
 * ```
 */
export interface JoinRequest {
  /** Client URLs of members; the first that answers is used. */
  urls: string[];
  /** Bearer token with the admin scope, when the cluster has tokens. */
  token?: string;
  /** The id asked for; the cluster assigns one when absent. */
  id?: NodeId;
  /** This node's peer URL, as the members will reach it. */
  peerUrl: string;
  /** This node's client URL (for `X-Leader` and `GET /v1/members`). */
  clientUrl: string;
  /** How long to keep asking while the cluster cannot answer yet (default 30 s). */
  timeoutMs?: number;
  /** Pause between two attempts (default 250 ms). */
  retryMs?: number;
  /** Progress, one line per step or retry reason. */
  log?: (event: string, fields: Record<string, unknown>) => void;
}

/**
 * What the join got: the node's id and a snapshot that includes it as a member.
 *
 * @example
 * ```ts
 * import type { Joined } from "./join.ts";
 * function idOf(j: Joined): number {
 *   return j.id;
 * }
 * ```
 */
export interface Joined {
  id: NodeId;
  backup: Backup;
  /** The member that answered. */
  via: string;
}

/**
 * The join failed; the message is one sentence for the operator.
 *
 * @example
 * ```ts
 * import { JoinError } from "./join.ts";
 * console.log(new JoinError("no").name); // "JoinError"
 * ```
 */
export class JoinError extends Error {
  override name = "JoinError";
}

/** An answer worth asking again for (no leader yet, a change under way, an unknown outcome). */
class Retry extends Error {}

interface MemberView {
  id: NodeId;
  peerUrl: string;
  role: string;
}

/**
 * Adds this node to the cluster (unless it is a member already) and fetches a snapshot that
 * includes it; see the module comment.
 *
 * @example
 * ```ts ignore
 * const { id, backup } = await joinCluster({
 *   urls: ["http://127.0.0.1:7001"],
 *   peerUrl: "http://127.0.0.1:7104",
 *   clientUrl: "http://127.0.0.1:7004",
 * });
 * await startFromBackup(storage, backup);
 * ```
 */
export async function joinCluster(req: JoinRequest): Promise<Joined> {
  const deadline = Date.now() + (req.timeoutMs ?? 30_000);
  const api = new JoinApi(req);
  let id: NodeId | undefined;
  let lastReason = "";
  while (true) {
    try {
      id ??= await addOrFind(api, req);
      const backup = await api.snapshot();
      if (backup.conf.voters.includes(id) || backup.conf.learners.includes(id)) {
        return { id, backup, via: api.url };
      }
      // The member that answered has not applied the addition yet: its next snapshot will.
      throw new Retry(
        `the snapshot of ${api.url} (index ${backup.index}) does not include node ${id} yet`,
      );
    } catch (e) {
      if (!(e instanceof Retry)) throw e;
      if (Date.now() >= deadline) {
        throw new JoinError(
          `could not join through ${req.urls.join(", ")} within ${
            req.timeoutMs ?? 30_000
          } ms: ${e.message}`,
        );
      }
      if (e.message !== lastReason) req.log?.("join: waiting", { reason: e.message });
      lastReason = e.message;
      await new Promise((r) => setTimeout(r, req.retryMs ?? 250));
    }
  }
}

async function addOrFind(api: JoinApi, req: JoinRequest): Promise<NodeId> {
  const members = await api.members();
  const me = members.find((m) => m.peerUrl === req.peerUrl);
  if (me !== undefined) {
    if (req.id !== undefined && me.id !== req.id) {
      throw new JoinError(
        `the cluster has node ${me.id} at ${req.peerUrl} already, but --id says ${req.id}: ` +
          `start it with --id ${me.id}, or remove node ${me.id} first`,
      );
    }
    req.log?.("join: the cluster has this node already", { id: me.id, role: me.role });
    return me.id;
  }
  const added = await api.add();
  req.log?.("join: added as a learner", { id: added.id, via: api.url });
  return added.id;
}

/** The member's client API, as the join calls it: the first URL that answers is kept. */
class JoinApi {
  #at = 0;
  constructor(readonly req: JoinRequest) {}

  get url(): string {
    return this.req.urls[this.#at];
  }

  members(): Promise<MemberView[]> {
    return this.#call("GET", "/v1/members", undefined, async (res) => {
      const body = await res.json();
      if (!Array.isArray(body)) throw new JoinError(`${this.url}/v1/members is not a member list`);
      return body as MemberView[];
    });
  }

  add(): Promise<MemberView> {
    const body = {
      ...(this.req.id === undefined ? {} : { id: this.req.id }),
      peerUrl: this.req.peerUrl,
      clientUrl: this.req.clientUrl,
      role: "learner",
    };
    return this.#call("POST", "/v1/members", body, async (res) => await res.json() as MemberView);
  }

  snapshot(): Promise<Backup> {
    return this.#call("GET", "/v1/snapshot", undefined, async (res) => {
      const bytes = new Uint8Array(await res.arrayBuffer());
      try {
        return await decodeBackup(bytes);
      } catch (e) {
        if (!(e instanceof BackupFileError)) throw e;
        throw new Retry(`the snapshot from ${this.url} did not arrive whole (${e.message})`);
      }
    });
  }

  /** One request, to the first member that answers; 503/504/409 in progress are `Retry`. */
  async #call<T>(
    method: string,
    path: string,
    body: unknown,
    read: (res: Response) => Promise<T>,
  ): Promise<T> {
    const failures: string[] = [];
    for (let tried = 0; tried < this.req.urls.length; tried++) {
      const url = this.url;
      let res: Response;
      try {
        res = await fetch(`${url}${path}`, {
          method,
          headers: {
            ...(body === undefined ? {} : { "content-type": "application/json" }),
            ...(this.req.token === undefined ? {} : { authorization: `Bearer ${this.req.token}` }),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(10_000),
        });
      } catch (e) {
        failures.push(`${url}: ${reason(e)}`);
        this.#at = (this.#at + 1) % this.req.urls.length;
        continue;
      }
      if (res.ok) return await read(res);
      throw await refusal(res, method, `${url}${path}`);
    }
    throw new JoinError(`cannot reach the cluster to join: ${failures.join("; ")}`);
  }
}

/** Why a fetch failed, in a few words: the cause Deno wraps in "fetch failed" says it. */
function reason(e: unknown): string {
  if ((e as Error).name === "TimeoutError") return "no answer within 10 s";
  const messages: string[] = [];
  for (let x = e; x instanceof Error; x = x.cause) messages.push(x.message);
  const all = messages.join(" / ");
  if (/refused/i.test(all)) return "connection refused";
  if (/dns error|failed to lookup|name or service not known/i.test(all)) return "no such host";
  return (messages.at(-1) ?? String(e)).split("\n")[0];
}

/** A non-2xx answer as a `Retry` (worth asking again) or a `JoinError` naming the refusal. */
async function refusal(res: Response, method: string, url: string): Promise<Error> {
  const text = await res.text().catch(() => "");
  let code = "";
  let detail = text.trim().split("\n")[0].slice(0, 200);
  try {
    const problem = JSON.parse(text) as { type?: string; detail?: string; title?: string };
    code = problem.type?.split(/[/:]/).pop() ?? "";
    detail = problem.detail ?? problem.title ?? detail;
  } catch {
    // not problem+json: keep the text
  }
  const what = `${method} ${url}: ${res.status}${code ? ` ${code}` : ""}${
    detail ? `: ${detail}` : ""
  }`;
  if (res.status === 503 || res.status === 504 || code === "change-in-progress") {
    return new Retry(what);
  }
  if (res.status === 401 || res.status === 403) {
    return new JoinError(
      `the cluster refused the join (${what}): give --join-token a token with the admin scope`,
    );
  }
  if (res.status === 404 && code === "") {
    return new JoinError(`${what}: is this the client URL of an edgeraft member?`);
  }
  return new JoinError(`the cluster refused the join (${what})`);
}
