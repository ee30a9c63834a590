/** Which exec commands wait for approval (src/master/approvals/policy.ts). */
import { expect, test } from "bun:test";
import { approvalMatches, execNeedsApproval } from "../../src/master/approvals/policy.ts";

test.each([
  // [entry, argv[0], held]
  ["reboot", "reboot", true],
  ["reboot", "/sbin/reboot", true], // a bare entry holds every path to it, as deny entries refuse them
  ["reboot", "./reboot", true],
  ["/sbin/reboot", "/sbin//reboot", true],
  ["/sbin/reboot", "/usr/sbin/reboot", false],
  ["*", "anything", true],
  ["systemctl*", "/usr/bin/systemctl", true],
  ["rm*", "/usr/bin/rmdir", true],
  ["rm*", "/usr/bin/perm", false],
  ["/usr/bin/*", "/usr/bin/apt", true],
  ["/usr/bin/*", "/usr/local/bin/apt", false],
  ["?d", "dd", true],
])("%p holds %p: %p", (entry, cmd, held) => {
  expect(approvalMatches(entry, cmd)).toBe(held);
});

test("execNeedsApproval names the first entry that holds the command, or null", () => {
  expect(execNeedsApproval([], ["reboot"])).toBeNull();
  expect(execNeedsApproval(["uptime", "rm*"], ["/bin/rm", "-rf", "/"])).toBe("rm*");
  expect(execNeedsApproval(["uptime"], ["/bin/echo"])).toBeNull();
});
