/**
 * Honouring Retry-After (design §4): Bun's WebSocket client does not expose
 * the 503's headers, so after a refused upgrade the agent asks the master's
 * /healthz for its current admission wait (the same number Retry-After
 * carries) and waits at least that long (connection/machine.ts), spread by
 * up to half again so the refused agents do not come back together.
 */
import type { ClientTls } from "../config/index.ts";
import { httpUrl, type HostPort } from "../control/index.ts";
import type { Rng } from "./backoff.ts";

/** Longest admission wait believed (10 min): a master cannot park its agents for longer. */
const ADMISSION_WAIT_MS_MAX = 600_000;
/** The /healthz question is best effort: it gets this long. */
const HEALTHZ_TIMEOUT_MS = 2000;

/** Best effort: 0 if the master cannot tell. `resume`: the agent comes back with a session token. */
export async function admissionDelayMs(m: HostPort, rng: Rng, tls?: ClientTls, resume = false): Promise<number> {
  try {
    const res = await fetch(`${httpUrl(m)}/healthz`, { tls, signal: AbortSignal.timeout(HEALTHZ_TIMEOUT_MS) });
    const body = (await res.json()) as { wsRetryAfterMs?: unknown; wsResumeRetryAfterMs?: unknown };
    // With a session token the upgrade waits in the resume bucket (older masters have only one).
    const raw = resume && body.wsResumeRetryAfterMs !== undefined ? body.wsResumeRetryAfterMs : body.wsRetryAfterMs;
    const wait = typeof raw === "number" && Number.isFinite(raw) ? Math.min(Math.max(0, raw), ADMISSION_WAIT_MS_MAX) : 0;
    return Math.round(wait * (1 + 0.5 * rng()));
  } catch {
    return 0;
  }
}
