/**
 * Token roles (design §4, docs/security.md): what a token may do. `agent`
 * runs the control channel of one host; `read` queries; `admin` changes
 * state. Tokens carry one (auth/), commands record it (store/), the CLI
 * asks for one (ctl/): this is the one list.
 */
import * as v from "valibot";

export const ROLES = ["agent", "read", "admin"] as const;
export const RoleSchema = v.picklist(ROLES);
export type Role = v.InferOutput<typeof RoleSchema>;
