/**
 * Membership: `GET /v1/members`, `POST /v1/members` (add a learner),
 * `POST /v1/members/{id}/promote`, `DELETE /v1/members/{id}` and `POST /v1/leader/transfer`
 * (docs/api.md, "Membership and backups"). Every one needs the admin scope when tokens are
 * configured. The node runs each change on the leader, wherever it was asked
 * (src/node/membership.ts); a refusal is a problem whose type ends in the refusal's code.
 *
 * @module
 */

import type { Context, Hono } from "hono";
import type { MemberInfo, MembershipAnswer, MembershipRequest } from "../../node/membership.ts";
import type { ApiMembership } from "../api_node.ts";
import type { ApiDeps, ApiEnv } from "../app_env.ts";
import { authorize } from "../middleware/auth/auth.ts";
import { methodNotAllowed } from "../middleware/problem_errors/problem_errors.ts";
import { describeRoute, jsonResponse, problemResponses } from "../openapi.ts";
import { ProblemError } from "../problem.ts";
import { jsonBody } from "../request_parts.ts";
import { LeaderSchema, MemberSchema, RemovedSchema } from "../response_schemas.ts";
import { parseWith } from "../schemas.ts";
import { z } from "../zod.ts";

/**
 * The node's membership, or the 501 problem when it has none (a node built without it: every
 * `RaftNode` has it).
 */
function membershipOf(deps: ApiDeps): ApiMembership {
  const membership = deps.node.membership;
  if (membership) return membership;
  throw new ProblemError(501, "not-implemented", "this node does not offer membership changes");
}

/** The member a change answered with (add, promote); anything else is the node's bug. */
function memberOf(answer: MembershipAnswer): MemberInfo {
  if ("member" in answer) return answer.member;
  throw new Error(`a membership change answered ${JSON.stringify(answer)}, not a member`);
}

/** The `{id}` of `/v1/members/{id}[/promote]`. */
function idParam(c: Context<ApiEnv>, deps: ApiDeps): number {
  return parseWith(deps.schemas.memberId, c.req.param("id"), "id");
}

/** Runs a change; the admin scope was checked by the caller. */
async function change(deps: ApiDeps, req: MembershipRequest): Promise<MembershipAnswer> {
  return await membershipOf(deps).change(req);
}

/**
 * Mounts the membership routes and describes them in the registry.
 *
 * @example
 * ```ts ignore
 * memberRoutes(app, deps);
 * ```
 */
export function memberRoutes(app: Hono<ApiEnv>, deps: ApiDeps): void {
  const { schemas } = deps;
  const admin = (c: Context<ApiEnv>) => authorize(c, { scopes: ["admin"] });

  app.get("/v1/members", async (c) => {
    admin(c);
    const members = await membershipOf(deps).list();
    c.header("cache-control", "no-store");
    return c.json(members);
  });
  app.post("/v1/members", async (c) => {
    admin(c);
    const body = parseWith(schemas.addMemberBody, jsonBody(c), "body");
    const member = memberOf(
      await change(deps, {
        op: "add",
        id: body.id,
        peerUrl: body.peerUrl,
        clientUrl: body.clientUrl,
      }),
    );
    c.header("location", `/v1/members/${member.id}`);
    return c.json(member, 201);
  });
  app.all("/v1/members", methodNotAllowed("GET", "HEAD", "POST"));

  app.post("/v1/members/:id/promote", async (c) => {
    admin(c);
    const id = idParam(c, deps);
    return c.json(memberOf(await change(deps, { op: "promote", id })));
  });
  app.all("/v1/members/:id/promote", methodNotAllowed("POST"));

  app.delete("/v1/members/:id", async (c) => {
    admin(c);
    const id = idParam(c, deps);
    const answer = await change(deps, { op: "remove", id });
    if (!("removed" in answer)) throw new Error(`a removal answered ${JSON.stringify(answer)}`);
    return c.json({ removed: answer.removed });
  });
  app.all("/v1/members/:id", methodNotAllowed("DELETE"));

  app.post("/v1/leader/transfer", async (c) => {
    admin(c);
    // An empty body asks for the best target.
    const body = parseWith(schemas.transferBody, jsonBody(c) ?? {}, "body");
    const answer = await change(deps, { op: "transfer", to: body.to });
    if (!("leader" in answer)) throw new Error(`a transfer answered ${JSON.stringify(answer)}`);
    return c.json({ leader: answer.leader });
  });
  app.all("/v1/leader/transfer", methodNotAllowed("POST"));

  describe(deps);
}

/** The problems every change can answer, beside its own. */
const CHANGE_PROBLEMS = {
  409: "`change-in-progress`: another membership change is running (one at a time)",
  501: "`not-implemented`: this node offers no membership changes",
  503: "`no-leader`: no leader is known, or leadership changed before the change committed " +
    "(nothing was made; retry, with `Retry-After`)",
  504: "`outcome-unknown`: the leader did not answer in time; the change may have been made " +
    "(`GET /v1/members` tells)",
};

/** A request without a body of its own is still read under the body limits, ahead of routes. */
const STRAY_BODY = {
  413: "The body (this request takes none) is over `maxBodyBytes`",
  415: "A `Content-Encoding` other than `identity`",
};

function describe({ registry, schemas, open }: ApiDeps): void {
  const auth = !open;
  const id = z.object({ id: schemas.memberId });
  describeRoute(registry, {
    method: "get",
    path: "/v1/members",
    summary: "Every member with its role, replication progress and last contact (admin)",
    description: "From the leader when one answers (it knows the progress), else from this " +
      "node, with null progress.",
    responses: {
      200: jsonResponse("The members, by id", z.array(MemberSchema)),
      ...problemResponses({ 501: CHANGE_PROBLEMS[501] }),
    },
  }, { auth });
  describeRoute(registry, {
    method: "post",
    path: "/v1/members",
    summary: "Add a member as a learner (admin); it becomes a voter by promotion",
    description: "The new node receives the log but does not vote or count for commits. Start " +
      "it from `GET /v1/snapshot` of any member (or with `--join`, which does all of this).",
    request: {
      body: { required: true, content: { "application/json": { schema: schemas.addMemberBody } } },
    },
    responses: {
      201: jsonResponse("The member added", MemberSchema, {
        Location: { description: "/v1/members/{id}", schema: { type: "string" } },
      }),
      ...problemResponses({
        ...CHANGE_PROBLEMS,
        409: "`already-member`: the id, peer URL or client URL is taken (ids are never " +
          `reused); or ${CHANGE_PROBLEMS[409]}`,
      }),
    },
  }, { auth, body: "json" });
  describeRoute(registry, {
    method: "post",
    path: "/v1/members/{id}/promote",
    summary: "Make a learner a voter, once it has caught up (admin)",
    request: { params: id },
    responses: {
      200: jsonResponse("The member, now a voter", MemberSchema),
      ...problemResponses({
        ...CHANGE_PROBLEMS,
        ...STRAY_BODY,
        404: "`unknown-member`: no such member",
        409: "`not-caught-up`: the learner's log is too far behind the leader's or it has not " +
          "answered within an election timeout (`detail` says how far); `already-voter`; or " +
          CHANGE_PROBLEMS[409],
      }),
    },
  }, { auth });
  describeRoute(registry, {
    method: "delete",
    path: "/v1/members/{id}",
    summary: "Remove a member (admin); the leader hands over first when it is the one removed",
    request: { params: id },
    responses: {
      200: jsonResponse("Removed", RemovedSchema),
      ...problemResponses({
        ...CHANGE_PROBLEMS,
        ...STRAY_BODY,
        404: "`unknown-member`: no such member",
        409: "`last-voter`: it is the only voter; `no-quorum`: the voters left would not have " +
          `a live majority (\`detail\` says how many answer); or ${CHANGE_PROBLEMS[409]}`,
        503: "`transfer-failed`: the leader, asked to remove itself, could not hand over; or " +
          CHANGE_PROBLEMS[503],
      }),
    },
  }, { auth });
  describeRoute(registry, {
    method: "post",
    path: "/v1/leader/transfer",
    summary: "Hand leadership to another voter; answers once the new leader is in place (admin)",
    request: {
      body: {
        required: false,
        content: { "application/json": { schema: schemas.transferBody } },
      },
    },
    responses: {
      200: jsonResponse("The leader now", LeaderSchema),
      ...problemResponses({
        ...CHANGE_PROBLEMS,
        404: "`unknown-member`: `to` is no voter",
        409: "`last-voter`: there is no other voter to hand over to",
        503: "`transfer-failed`: no new leader within two election timeouts; or " +
          CHANGE_PROBLEMS[503],
      }),
    },
  }, { auth, body: "json" });
}
