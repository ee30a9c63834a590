import { hostAction } from "./host-action.ts";

export default hostAction(
  "revoke-sessions",
  "End a host's control session and refuse the session tokens it holds; it can register again only with a valid join token (admin, audited)",
  (host) => `${host}: sessions revoked`,
);
