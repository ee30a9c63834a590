import { exitStatusOf } from "../../src/main.ts";
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, envName, flagName, loadConfig, sectionLeaves } from "../../src/config/index.ts";

const dir = mkdtempSync(join(tmpdir(), "lava-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error("expected a ConfigError");
}

describe("loadConfig", () => {
  test("defaults come from the schema when nothing is given", () => {
    const { config, file } = loadConfig({ role: "master", env: {}, flags: {} });
    expect(file).toBeNull();
    expect(config.udpPort).toBe(6879);
    expect(config.httpPort).toBe(6880);
    expect(config.insecure).toBe(false);
    expect(config.busy.loadPerCpu).toBe(1.5);
    expect(config.log).toEqual({ level: "info", format: "pretty" });
  });

  test("precedence is flags > env > file > defaults", () => {
    const f = file("prec.yaml", "master:\n  udpPort: 7001\n  httpPort: 7002\n  bind: 10.0.0.1\n");
    const env = { LAVA_UDP_PORT: "7101", LAVA_BIND: "127.0.0.1" };
    const { config } = loadConfig({ role: "master", configFile: f, env, flags: { udpPort: "7201" } });
    expect(config.udpPort).toBe(7201); // flag
    expect(config.bind).toBe("127.0.0.1"); // env over file
    expect(config.httpPort).toBe(7002); // file over default
  });

  test("nested keys: agent.exec.allow from file, env and flag-style paths", () => {
    const f = file("agent.yaml", "agent:\n  exec:\n    allow: [/bin/echo, uptime]\n");
    expect(loadConfig({ role: "agent", configFile: f, env: {} }).config.exec.allow).toEqual(["/bin/echo", "uptime"]);
    const viaEnv = loadConfig({ role: "agent", configFile: f, env: { LAVA_EXEC_ALLOW: "true, false" } });
    expect(viaEnv.config.exec.allow).toEqual(["true", "false"]);
    expect(loadConfig({ role: "agent", env: {}, flags: { "log.level": "debug" } }).config.log.level).toBe("debug");
  });

  test("one file serves every role", () => {
    const f = file("all.yaml", "master:\n  httpPort: 9000\nagent:\n  interval: 2\nctl:\n  master: a:1,b:2\n");
    expect(loadConfig({ role: "master", configFile: f, env: {} }).config.httpPort).toBe(9000);
    expect(loadConfig({ role: "agent", configFile: f, env: {} }).config.interval).toBe(2);
    expect(loadConfig({ role: "ctl", configFile: f, env: {} }).config.master).toBe("a:1,b:2");
  });

  test("an unknown key names the file, the key and what is allowed", () => {
    const f = file("typo.yaml", "master:\n  udpPrt: 1\n");
    const e = errorOf(() => loadConfig({ role: "master", configFile: f, env: {} }));
    expect(exitStatusOf(e)).toBe(2);
    expect(e.message).toContain(f);
    expect(e.message).toContain("master.udpPrt");
    expect(e.message).toContain("unknown key");
    expect(e.message).toContain("udpPort");
  });

  test("an unknown section is refused", () => {
    const f = file("section.yaml", "mastr:\n  udpPort: 1\n");
    expect(errorOf(() => loadConfig({ role: "agent", configFile: f, env: {} })).message).toContain("mastr");
  });

  test("a bad value in the file names the file and key", () => {
    const f = file("bad.yaml", "master:\n  udpPort: 70000\n");
    const e = errorOf(() => loadConfig({ role: "master", configFile: f, env: {} }));
    expect(e.message).toContain(`${f}: master.udpPort`);
    expect(e.message).toContain("0-65535");
  });

  test("a bad value from env names the variable", () => {
    const e = errorOf(() => loadConfig({ role: "master", env: { LAVA_HTTP_PORT: "eighty" } }));
    expect(e.message).toContain("env LAVA_HTTP_PORT");
    expect(e.message).toContain("master.httpPort");
  });

  test("a bad element of a list from env names the variable, not the defaults", () => {
    const e = errorOf(() => loadConfig({ role: "master", env: { LAVA_RAFT_PEERS: "2=m2:6880,bad" } }));
    expect(e.message).toStartWith("env LAVA_RAFT_PEERS: master.raftPeers.1:");
    expect(e.message).toContain("ID=HOST:PORT");
    expect(e.message).not.toContain("defaults");
  });

  test("a bad element of a list from a flag names the flag", () => {
    const e = errorOf(() => loadConfig({ role: "master", env: {}, flags: { raftPeers: "x" } }));
    expect(e.message).toStartWith("flag --raft-peers: master.raftPeers.0:");
  });

  test("a bad value from a flag names the flag", () => {
    const e = errorOf(() => loadConfig({ role: "agent", env: {}, flags: { interval: "0.2" } }));
    expect(e.message).toContain("flag --interval");
    expect(e.message).toContain("at least 1 s");
  });

  test("allowlist entries with argument patterns load; a bad pattern stops start-up naming the file, the key and the pattern", () => {
    const ok = file("allow-ok.yaml", "agent:\n  exec:\n    allow:\n      - /usr/bin/uptime\n      - [/usr/bin/systemctl, restart, \"nginx|php-fpm\"]\n");
    expect(loadConfig({ role: "agent", configFile: ok, env: {}, flags: {} }).config.exec.allow).toEqual(["/usr/bin/uptime", ["/usr/bin/systemctl", "restart", "nginx|php-fpm"]]);
    const bad = file("allow-bad.yaml", "agent:\n  exec:\n    allow:\n      - [/usr/bin/systemctl, \"(restart\"]\n");
    const e = errorOf(() => loadConfig({ role: "agent", configFile: bad, env: {}, flags: {} }));
    expect(e.message).toContain(bad);
    expect(e.message).toContain("exec.allow");
    expect(e.message).toContain('"(restart" is not a valid regular expression');
    const rest = file("allow-rest.yaml", "master:\n  exec:\n    allow:\n      - [/bin/ls, \"...\", \"-l\"]\n");
    expect(errorOf(() => loadConfig({ role: "master", configFile: rest, env: {}, flags: {} })).message).toContain('"..." may only be the last pattern');
  });

  test("a picklist error lists the choices", () => {
    const e = errorOf(() => loadConfig({ role: "ctl", env: { LAVA_LOG_FORMAT: "xml" } }));
    expect(e.message).toContain("pretty");
    expect(e.message).toContain("json");
  });

  test("YAML syntax errors and non-mapping files are config errors naming the file", () => {
    const f = file("syntax.yaml", "master: [unclosed\n");
    expect(errorOf(() => loadConfig({ role: "master", configFile: f, env: {} })).message).toContain(f);
    const g = file("list.yaml", "- a\n- b\n");
    expect(errorOf(() => loadConfig({ role: "master", configFile: g, env: {} })).message).toContain("mapping");
  });

  test("a missing explicit file is an error, LAVA_CONFIG counts as explicit", () => {
    const missing = join(dir, "nope.yaml");
    expect(errorOf(() => loadConfig({ role: "master", configFile: missing, env: {} })).message).toContain(missing);
    expect(errorOf(() => loadConfig({ role: "master", env: { LAVA_CONFIG: missing } })).message).toContain(missing);
  });

  test("an empty file is allowed and means defaults", () => {
    const f = file("empty.yaml", "");
    expect(loadConfig({ role: "master", configFile: f, env: {} }).config.udpPort).toBe(6879);
  });
});

describe("names", () => {
  test("env and flag names derive from the key path", () => {
    expect(envName(["dataDir"])).toBe("LAVA_DATA_DIR");
    expect(envName(["exec", "allow"])).toBe("LAVA_EXEC_ALLOW");
    expect(flagName(["udpPort"])).toBe("--udp-port");
  });

  test("every leaf of every section is reachable", () => {
    const paths = sectionLeaves("agent").map((l) => l.path.join("."));
    expect(paths).toContain("exec.allow");
    expect(paths).toContain("log.level");
    expect(sectionLeaves("master").find((l) => l.path.join(".") === "udpPort")?.kind).toBe("number");
  });
});
