import { describe, expect, test } from "bun:test";
import { isCompiledBinary, restartPlan, tempPathFor, updateUrl, versionProblem } from "../../../src/agent/update/index.ts";

describe("update_agent: the pure parts", () => {
  test("only a compiled binary updates itself", () => {
    expect(isCompiledBinary("/$bunfs/root/lava")).toBe(true);
    expect(isCompiledBinary("B:/~BUN/root/lava.exe")).toBe(true);
    expect(isCompiledBinary("/work/main/src/main.ts")).toBe(false);
    expect(isCompiledBinary(Bun.main)).toBe(false); // these tests run from source
  });

  test("the URL is the master's HTTP base plus an absolute path; anything that could name another host is refused", () => {
    expect(updateUrl("http://10.0.0.1:6880", "/api/v1/agent/binary?version=0.2.0")).toEqual({ url: "http://10.0.0.1:6880/api/v1/agent/binary?version=0.2.0" });
    for (const bad of ["api/v1/binary", "//evil.example/x", "/x@evil", "http://evil/x", "/a b", "/a\\b", "", "/a\nb"]) {
      expect("error" in updateUrl("http://m:1", bad)).toBe(true);
    }
  });

  test("the download goes beside the executable, hidden", () => {
    expect(tempPathFor("/usr/local/bin/lava", "ab12")).toBe("/usr/local/bin/.lava.update-ab12");
    expect(tempPathFor("lava", "x")).toBe("./.lava.update-x");
  });

  test("the new binary must print the requested version", () => {
    expect(versionProblem('{"version":"0.2.0","commit":"abc","bun":"1.4.5"}\n', "0.2.0")).toBe(null);
    expect(versionProblem('{"version":"0.1.0"}', "0.2.0")).toContain('version "0.1.0", not the "0.2.0"');
    expect(versionProblem("lava 0.2.0", "0.2.0")).toContain("did not print JSON");
    expect(versionProblem('{"v":1}', "0.2.0")).toContain("has no version");
  });

  test("the restart keeps the user's arguments and the environment", () => {
    const plan = restartPlan("/usr/local/bin/lava", ["bun", "/$bunfs/root/lava", "agent", "--master", "m:6880"], { A: "1", B: undefined }, "0.2.0");
    expect(plan).toEqual({ execPath: "/usr/local/bin/lava", argv: ["/usr/local/bin/lava", "agent", "--master", "m:6880"], env: { A: "1" }, version: "0.2.0" });
  });
});
