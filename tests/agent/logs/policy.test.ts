import { describe, expect, test } from "bun:test";
import { entryKind, pathAllowed, unitAllowed } from "../../../src/agent/logs/index.ts";

describe("agent.logs.allow policy (on real paths)", () => {
  const allow = ["/var/log/syslog", "/var/log/app/", "/srv/*/logs/*.log", "/opt/x/**"];

  test("entry kinds", () => {
    expect(allow.map(entryKind)).toEqual(["file", "dir", "glob", "glob"]);
  });

  test("an exact file entry allows that file only", () => {
    expect(pathAllowed("/var/log/syslog", allow)).toBe(true);
    expect(pathAllowed("/var/log/syslog.1", allow)).toBe(false);
    expect(pathAllowed("/var/log", allow)).toBe(false);
  });

  test("a directory entry (ending in '/') allows everything below it, not a sibling with the same prefix", () => {
    expect(pathAllowed("/var/log/app/a.log", allow)).toBe(true);
    expect(pathAllowed("/var/log/app/deep/b.log", allow)).toBe(true);
    expect(pathAllowed("/var/log/application.log", allow)).toBe(false);
    expect(pathAllowed("/var/log/app", allow)).toBe(false);
  });

  test("globs: * stays in one directory, ** crosses them", () => {
    expect(pathAllowed("/srv/web/logs/access.log", allow)).toBe(true);
    expect(pathAllowed("/srv/web/logs/old/access.log", allow)).toBe(false);
    expect(pathAllowed("/srv/web/logs/access.txt", allow)).toBe(false);
    expect(pathAllowed("/opt/x/a/b/c", allow)).toBe(true);
  });

  test("nothing is allowed by an empty list", () => {
    expect(pathAllowed("/var/log/syslog", [])).toBe(false);
  });

  test("units: exact names from agent.logs.units only", () => {
    expect(unitAllowed("nginx.service", ["nginx.service"])).toBe(true);
    expect(unitAllowed("nginx", ["nginx.service"])).toBe(false);
    expect(unitAllowed("", [""])).toBe(false);
    expect(unitAllowed("sshd", [])).toBe(false);
  });
});
