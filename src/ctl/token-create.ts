import { defineCommand } from "citty";
import { LavaError } from "../errors.ts";
import { connect, ctlArgs, expectObject } from "./args.ts";
import { print, printJson } from "./output.ts";
import { meta } from "../cli/meta.ts";
import { ROLES, type Role } from "../control/roles.ts";

const TOKEN_ROLES = ROLES;
type TokenRole = Role;

export default defineCommand({
  meta: meta({ name: "create", description: "Mint a token (needs an admin token); prints the token alone, or the whole answer with --json", examples: ["lava ctl token create --role agent > agent.token", "lava ctl token create --role read --ttl 86400"] }),
  args: {
    ...ctlArgs,
    role: { type: "string", description: "agent (join the cluster), read (queries) or admin (everything); required", valueHint: "ROLE" },
    subject: { type: "string", description: "Who or what the token is for (recorded in the token and the audit log)", valueHint: "NAME" },
    ttl: { type: "string", description: "Lifetime in seconds (default: the master's)", valueHint: "SECONDS" },
  },
  async run({ args }) {
    const body = tokenRequest(args);
    const ctx = connect(args);
    const answer = expectObject(await ctx.client.post("/api/v1/tokens", body), "POST /api/v1/tokens");
    if (ctx.json) {
      await printJson(answer);
      return;
    }
    if (typeof answer.token !== "string" || answer.token === "") {
      throw new LavaError("the master's answer to POST /api/v1/tokens has no token", "failed");
    }
    await print(answer.token);
  },
});

/** The POST /api/v1/tokens body from the flags; a bad flag is a usage error (exit 2). */
export function tokenRequest(args: { role?: string | undefined; subject?: string | undefined; ttl?: string | undefined }): {
  role: TokenRole;
  subject?: string;
  ttlSeconds?: number;
} {
  const role = args.role;
  if (role === undefined || role === "") throw new LavaError("token create needs --role agent|read|admin", "usage");
  if (!(TOKEN_ROLES as readonly string[]).includes(role)) {
    throw new LavaError(`--role must be agent, read or admin, got "${role}"`, "usage");
  }
  const out: { role: TokenRole; subject?: string; ttlSeconds?: number } = { role: role as TokenRole };
  if (args.subject !== undefined) {
    if (args.subject === "") throw new LavaError("--subject must not be empty", "usage");
    out.subject = args.subject;
  }
  if (args.ttl !== undefined) {
    const ttl = Number(args.ttl.trim());
    if (args.ttl.trim() === "" || !Number.isInteger(ttl) || ttl <= 0) {
      throw new LavaError(`--ttl must be a whole number of seconds above 0, got "${args.ttl}"`, "usage");
    }
    out.ttlSeconds = ttl;
  }
  return out;
}
