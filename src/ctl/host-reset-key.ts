import { hostAction } from "./host-action.ts";

export default hostAction(
  "reset-key",
  "Forget the host key a host is bound to (after a reinstall): its session ends and its next registration binds the key it brings (admin, audited)",
  (host) => `${host}: host key binding reset; the next registration binds the key it brings`,
);
