/**
 * State-changing routes (docs/api.md): admin only, every one audited
 * whatever happens. A request refused before it became a command (bad
 * token, wrong role, bad body) is a refusal row, aggregated and budgeted
 * (audit/refusals.ts); one that was proposed is audited by the state
 * machine. A write carries its client's request id into the log, so a
 * retry is answered with the first outcome (docs/api.md "Retries").
 */
import type { Claims } from "../../auth/index.ts";
import { REPLAYED_HEADER, REQUEST_ID_HEADER } from "../../control/http-headers.ts";
import { StoreError, type Applied, type Command } from "../../store/index.ts";
import type { RefusalAudit, RefusalRow } from "../audit/refusals.ts";
import { TokenGate } from "../tokens.ts";
import { clientIp } from "./client-ip.ts";
import { HttpError, storeHttpError } from "./errors.ts";
import type { Router } from "./router.ts";

/** Runs a command through the log: resolves once it is applied here, with its result. */
export type Propose = (cmd: Command) => Promise<Applied>;

/** What a state-changing handler gets: the caller, and a way to run a command through the log. */
export interface Change {
  caller: Claims;
  /** Proposes a command stamped with the time and the caller; a refusal becomes an HttpError. */
  commit: (cmd: DistributiveOmit<Command, "at" | "actor" | "actorRole">, notFound?: boolean) => Promise<Applied>;
}
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
export type ChangeRoute = (
  method: string,
  path: string,
  action: string,
  target: (p: Record<string, string>) => string | null,
  handler: (req: Request, p: Record<string, string>, url: URL, c: Change) => Promise<Response>,
) => void;

export interface ChangeDeps {
  gate: Pick<TokenGate, "identify" | "authorize">;
  propose: Propose;
  refusals: RefusalAudit;
  nowMs: () => number;
}

const REQUEST_ID_RE = /^[A-Za-z0-9._:-]{8,128}$/;

/** The request's id, or null without one; a malformed one is refused (it could not protect the retry). */
function requestIdOf(req: Request): string | null {
  const raw = req.headers.get(REQUEST_ID_HEADER);
  if (raw === null) return null;
  if (!REQUEST_ID_RE.test(raw)) throw new HttpError(400, "bad_request", `${REQUEST_ID_HEADER}: 8 to 128 characters of A-Z a-z 0-9 . _ : - (e.g. a UUID); got ${JSON.stringify(raw.slice(0, 40))}`);
  return raw;
}

/** Writes refusal audit rows through the log; a failed write is dropped (refusals are best effort, never a reason to fail). */
export function writeRefusalRows(propose: Propose, rows: readonly RefusalRow[], nowMs: () => number): void {
  for (const row of rows) propose({ type: "audit.record", at: nowMs(), ...row }).catch(() => {});
}

/** The `change` function route groups declare their state-changing routes with, on router `r`. */
export function changeRoutes(r: Router, deps: ChangeDeps): ChangeRoute {
  /** Audits a request that failed before it became a command (bad token, wrong role, bad body): aggregated and budgeted (audit/refusals.ts). */
  function auditRefusal(req: Request, url: URL, action: string, target: string | null, e: HttpError, caller: Claims | null) {
    const rows = deps.refusals.note(
      { source: clientIp(req), action, target, reason: `${e.status} ${e.code}`, actor: caller ? { sub: caller.sub, role: caller.role } : null, tokenPresented: TokenGate.tokenOf(req, url) !== null, detail: e.detail },
      deps.nowMs(),
    );
    writeRefusalRows(deps.propose, rows, deps.nowMs);
  }

  return (method, path, action, target, handler) => {
    r.on(method, path, async (req, p, url) => {
      let caller: Claims | null = null;
      let proposed = false;
      try {
        // Identified first, so a refusal of a valid token for its role is audited under its real subject.
        caller = deps.gate.identify(req, url, "admin");
        deps.gate.authorize(caller, "admin");
        const who = caller;
        const rid = requestIdOf(req);
        // A handler may commit more than one command: each gets the request's id and its place ("#1", …).
        let commits = 0;
        let replayOf: number | undefined;
        const c: Change = {
          caller: who,
          commit: async (cmd, notFound = true) => {
            proposed = true;
            const n = commits++;
            const requestId = rid === null ? undefined : n === 0 ? rid : `${rid}#${n}`;
            let applied: Applied;
            try {
              applied = await deps.propose({ ...cmd, at: deps.nowMs(), actor: who.sub, actorRole: who.role, ...(requestId ? { requestId } : {}) } as Command);
            } catch (e) {
              if (e instanceof StoreError) throw storeHttpError(e);
              throw e;
            }
            replayOf ??= applied.result.replayOf;
            if (!applied.result.ok) {
              const status = applied.result.error === "unknown_host" && notFound ? 404 : 409;
              throw new HttpError(status, applied.result.error, applied.result.detail, replayOf !== undefined ? { replayOf } : {});
            }
            return applied;
          },
        };
        const res = await handler(req, p, url, c);
        if (replayOf !== undefined) res.headers.set(REPLAYED_HEADER, String(replayOf));
        return res;
      } catch (e) {
        if (e instanceof HttpError && !proposed) auditRefusal(req, url, action, target(p), e, caller);
        throw e;
      }
    });
  };
}
