/**
 * The seeded generator of a model-test client's steps. It looks at the client's model to make
 * useful choices (renew a lock that is held, wait for a lock only when it is free, replay a
 * request that carried an idempotency key), so its choices follow the answers the run got; the
 * seed fixes everything else.
 *
 * @module
 */

import { Prng } from "../../checker/prng.ts";
import type { TokenName } from "./model_node.ts";
import type { ClientModel } from "./reference_model.ts";
import { BAD_INPUTS } from "./reference_model.ts";
import {
  type ExactlySpec,
  type Json,
  OWN_KEYS,
  OWN_LOCKS,
  type ReqSpec,
  SHARED_KEYS,
  SHARED_LOCKS,
  type Step,
} from "./steps.ts";

/**
 * The seed of client `client` in a run seeded with `seed`.
 *
 * @example
 * ```ts
 * import { clientSeed } from "./generator.ts";
 * clientSeed(7, 0) !== clientSeed(7, 1); // true
 * ```
 */
export function clientSeed(seed: number, client: number): number {
  return (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(client + 1, 0x85ebca6b)) >>> 0;
}

/** The tokens requests to an open node carry: mostly one, sometimes another or none. */
const OPEN_TOKENS: TokenName[] = ["alpha", "alpha", "alpha", "beta", "narrow", "unknown", "none"];

const STRINGS = ["", "a", "edge", "ü", "日本", "\u{1F680}", "line\nbreak", 'quote"', "~"];

/**
 * Generates the steps of one client.
 *
 * @example
 * ```ts ignore
 * import { StepGenerator } from "./generator.ts";
 * const gen = new StepGenerator(42);
 * const step = gen.next(model, 0);
 * ```
 */
export class StepGenerator {
  readonly prng: Prng;
  #idemKeys: string[] = [];
  #idemCounter = 0;
  #exactlyIndexes: number[] = [];

  /**
   * `open`: the node has no tokens, so any token (or none) may go with any request; without it
   * the choices, and so a seed's run, are those of a node with tokens.
   */
  constructor(seed: number, readonly options: { staleReads?: boolean; open?: boolean } = {}) {
    this.prng = new Prng(seed);
  }

  /** The next step, for step number `index`, given what the model knows now. */
  next(model: ClientModel, index: number): Step {
    const r = this.prng;
    const roll = r.int(1000);
    let step: Step;
    if (roll < 220) step = { t: "one", req: this.#put() };
    else if (roll < 280) step = { t: "one", req: this.#delete() };
    else if (roll < 420) {
      step = {
        t: "one",
        req: {
          op: "get",
          key: r.pick(OWN_KEYS),
          ifNoneMatch: r.chance(0.2),
          stale: (this.options.staleReads ?? true) && r.chance(0.2),
        },
      };
    } else if (roll < 460) {
      const req: ReqSpec = { op: "list", limit: r.pick([1, 2, 3, 5, 100]) };
      if (r.chance(0.3)) req.after = r.pick(OWN_KEYS);
      step = { t: "one", req };
    } else if (roll < 510) step = this.#replay(model);
    else if (roll < 550) {
      const req: ReqSpec = { op: "bad", variant: r.int(BAD_INPUTS.length) };
      if (r.chance(0.3)) req.exactly = this.#exactly(0.5);
      step = { t: "one", req };
    } else if (roll < 640) step = { t: "one", req: this.#acquire(model) };
    else if (roll < 690) step = { t: "one", req: this.#renewRelease("renew") };
    else if (roll < 740) step = { t: "one", req: this.#renewRelease("release") };
    else if (roll < 800) step = { t: "one", req: { op: "lockInfo", lock: r.pick(OWN_LOCKS) } };
    else if (roll < 840) {
      const req = r.pick([
        () => this.#put(),
        () => this.#delete(),
        () => this.#acquire(model),
        () => this.#renewRelease("renew"),
        () => this.#renewRelease("release"),
      ])();
      (req as { exactly?: ExactlySpec }).exactly = r.chance(0.7)
        ? this.#freshIdem()
        : { seq: "next" };
      if ("token" in req) delete req.token;
      step = { t: "dropRetry", req, abortAfterMs: r.int(6) };
    } else if (roll < 850) step = this.#waitScenario(model);
    else if (roll < 900) step = { t: "sharedPut", k: r.int(SHARED_KEYS), cas: r.chance(0.5) };
    else if (roll < 940) step = { t: "sharedGet", k: r.int(SHARED_KEYS) };
    else if (roll < 970) step = { t: "sharedAcquire", l: r.int(SHARED_LOCKS) };
    else if (roll < 985) step = { t: "sharedRenew", l: r.int(SHARED_LOCKS) };
    else step = { t: "sharedRelease", l: r.int(SHARED_LOCKS) };
    if (step.t === "one" && step.req.op !== "replay" && "exactly" in step.req) {
      if (step.req.exactly !== undefined) this.#exactlyIndexes.push(index);
    }
    if (step.t === "dropRetry") this.#exactlyIndexes.push(index);
    if (this.options.open && (step.t === "dropRetry" || step.t === "one")) {
      const req = step.req;
      // An open node ignores the token: whichever a request carries, the answer is the same.
      if (req.op !== "replay" && req.op !== "bad") req.token = r.pick(OPEN_TOKENS);
      // A key's `/` sent raw: the read shortcut takes only keys that need no decoding.
      if (req.op === "get") req.encodeSlash = r.chance(0.5);
    }
    return step;
  }

  #value(depth = 0): Json {
    const r = this.prng;
    switch (r.int(depth > 2 ? 4 : 7)) {
      case 0:
        return r.int(2000) - 1000;
      case 1:
        return r.pick(STRINGS) + r.int(100);
      case 2:
        return r.chance(0.5);
      case 3:
        return r.chance(0.1) ? "x".repeat(1000 + r.int(2000)) : r.int(10) / 4;
      case 4:
        return null;
      case 5:
        return Array.from({ length: r.int(4) }, () => this.#value(depth + 1));
      default: {
        const o: Record<string, Json> = {};
        for (let i = r.int(4); i > 0; i--) o[r.pick(STRINGS) + i] = this.#value(depth + 1);
        return o;
      }
    }
  }

  #freshIdem(): ExactlySpec {
    const name = `i${this.#idemCounter++}`;
    this.#idemKeys.push(name);
    return { idem: name };
  }

  /** An exactly-once header or none; `reuse` is the chance to reuse an idempotency key. */
  #exactly(reuse = 0.12): ExactlySpec | undefined {
    const r = this.prng;
    if (this.#idemKeys.length > 0 && r.chance(reuse)) return { idem: r.pick(this.#idemKeys) };
    const roll = r.int(100);
    if (roll < 45) return undefined;
    if (roll < 78) return this.#freshIdem();
    if (roll < 94) return { seq: "next" };
    if (roll < 98) return { seq: "same" };
    return { seq: "lower" };
  }

  #put(): ReqSpec {
    const r = this.prng;
    return {
      op: "put",
      key: r.pick(OWN_KEYS),
      value: this.#value(),
      cond: r.pick([
        undefined,
        undefined,
        undefined,
        "current",
        "current",
        "stale",
        "absent",
        "create",
      ]),
      encodeSlash: r.chance(0.5),
      exactly: this.#exactly(),
    };
  }

  #delete(): ReqSpec {
    const r = this.prng;
    return {
      op: "delete",
      key: r.pick(OWN_KEYS),
      cond: r.pick([undefined, undefined, "current", "stale"]),
      exactly: this.#exactly(),
    };
  }

  #acquire(model: ClientModel): ReqSpec {
    const r = this.prng;
    const lock = r.pick(OWN_LOCKS);
    const req: ReqSpec = {
      op: "acquire",
      lock,
      owner: r.pick(["A", "B", "région-ü", undefined]),
      ttlMs: r.pick([1000, 1200, 1500, 30_000]),
      exactly: this.#exactly(),
    };
    // A long poll on a free lock is granted at once; on a held one it would wait (scenarios).
    if (model.surelyFree(lock) && r.chance(0.2)) req.waitMs = 2000;
    return req;
  }

  #renewRelease(op: "renew" | "release"): ReqSpec {
    const r = this.prng;
    return {
      op,
      lock: r.pick(OWN_LOCKS),
      which: r.chance(0.8) ? "held" : "stale",
      exactly: this.#exactly(),
    };
  }

  #replay(model: ClientModel): Step {
    const r = this.prng;
    const candidates = this.#exactlyIndexes.filter((i) => model.sentExactlyOnce(i));
    if (candidates.length === 0) return { t: "one", req: this.#put() };
    // Recent requests are the interesting ones to retry; older ones test that keys stay.
    const of = r.chance(0.7)
      ? candidates[Math.max(0, candidates.length - 1 - r.int(5))]
      : r.pick(candidates);
    if (this.options.open) {
      // On an open node a retry with another token (or none) is still the same owner's retry.
      return {
        t: "one",
        req: { op: "replay", of, token: r.chance(0.3) ? r.pick(OPEN_TOKENS) : undefined },
      };
    }
    return { t: "one", req: { op: "replay", of, token: r.chance(0.2) ? "beta" : undefined } };
  }

  #waitScenario(model: ClientModel): Step {
    const r = this.prng;
    const lock = r.pick(OWN_LOCKS);
    if (!model.surelyFree(lock)) {
      return { t: "one", req: { op: "release", lock, which: "held" } };
    }
    const kind = r.int(3);
    if (kind === 0) return { t: "waitExpire", lock };
    if (kind === 1) return { t: "waitTimeout", lock };
    return { t: "abandonWait", lock, abortAfterMs: 100 + r.int(200) };
  }
}
