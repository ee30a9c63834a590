import { describe, expect, test } from "bun:test";
import { defaultScheme, formatHostPort, httpUrl, parseHostPort, parseMasterList, withScheme } from "../../src/control/address.ts";

describe("parseHostPort", () => {
  test("host:port without a scheme has none (callers pick their role's default)", () => {
    expect(parseHostPort("m1:7000")).toEqual({ host: "m1", port: 7000 });
    expect(parseHostPort(" m1 ")).toEqual({ host: "m1", port: 6880 });
    expect(parseHostPort("[::1]:7000")).toEqual({ host: "::1", port: 7000 });
  });

  test("http:// and https:// are kept, in lower case; the identity stays host:port", () => {
    expect(parseHostPort("https://m1:7000")).toEqual({ host: "m1", port: 7000, scheme: "https" });
    expect(parseHostPort("HTTPS://m1:7000/")).toEqual({ host: "m1", port: 7000, scheme: "https" });
    expect(parseHostPort("http://[::1]")).toEqual({ host: "::1", port: 6880, scheme: "http" });
    expect(formatHostPort(parseHostPort("https://[::1]:7000")!)).toBe("[::1]:7000");
  });

  test("other schemes, paths and bad ports are refused", () => {
    for (const bad of ["ftp://m1:7000", "wss://m1:7000", "https://", "https://m1:7000/api", "m1:0", "m1:70000", "https://m1:x"]) {
      expect(parseHostPort(bad)).toBeNull();
    }
  });
});

describe("parseMasterList", () => {
  test("mixes schemes; the error for a bad item shows the accepted forms", () => {
    expect(parseMasterList("https://a:1, b:2,http://c:3")).toEqual([
      { host: "a", port: 1, scheme: "https" },
      { host: "b", port: 2 },
      { host: "c", port: 3, scheme: "http" },
    ]);
    expect(() => parseMasterList("a:1,ftp://b:2")).toThrow('bad master address "ftp://b:2" (expected host:port, http://host:port or https://host:port)');
  });
});

describe("schemes", () => {
  test("https when a tls section is configured or any master is written https://, else http", () => {
    expect(defaultScheme(parseMasterList("a:1,b:2"), false)).toBe("http");
    expect(defaultScheme(parseMasterList("a:1,b:2"), true)).toBe("https");
    expect(defaultScheme(parseMasterList("a:1,https://b:2"), false)).toBe("https");
    expect(defaultScheme(parseMasterList("http://a:1"), false)).toBe("http");
  });

  test("withScheme fills in only what was not written; httpUrl is http without one", () => {
    const [a, b] = parseMasterList("a:1,http://b:2");
    expect(httpUrl(withScheme(a!, "https"))).toBe("https://a:1");
    expect(httpUrl(withScheme(b!, "https"))).toBe("http://b:2");
    expect(httpUrl(a!)).toBe("http://a:1");
    expect(httpUrl({ host: "::1", port: 5, scheme: "https" })).toBe("https://[::1]:5");
  });
});
