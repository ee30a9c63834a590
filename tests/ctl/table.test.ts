import { describe, expect, test } from "bun:test";
import { formatAge, formatBytes, formatCount, formatLoad, formatPercent, formatTable, formatTime, truncate } from "../../src/ctl/table.ts";

describe("formatTable", () => {
  test("aligns columns, right-aligns numbers, puts the header first", () => {
    const text = formatTable(
      [{ title: "HOST" }, { title: "R1M", align: "right" }, { title: "STATUS" }],
      [
        ["alpha", "0.52", "ok"],
        ["b", "12.00", "unavail"],
      ],
    );
    expect(text.split("\n")).toEqual(["HOST     R1M  STATUS", "alpha   0.52  ok", "b      12.00  unavail"]);
  });

  test("no line ends with a space, even when the last column is left-aligned and short", () => {
    const text = formatTable([{ title: "A" }, { title: "LONG TITLE" }], [["x", ""], ["yy", "z"]]);
    for (const line of text.split("\n")) expect(line).toBe(line.trimEnd());
  });

  test("an empty table is the header alone", () => {
    expect(formatTable([{ title: "HOST" }, { title: "N", align: "right" }], [])).toBe("HOST  N");
  });

  test("header: false prints only the rows", () => {
    expect(formatTable([{ title: "" }, { title: "" }], [["master", "0.1.0"], ["hosts", "2"]], { header: false })).toBe("master  0.1.0\nhosts   2");
  });

  test("control characters from remote values cannot break the layout", () => {
    expect(formatTable([{ title: "H" }], [["a\nb\tc"]])).toBe("H\na?b?c");
  });

  test("a row wider than the columns is a programming error", () => {
    expect(() => formatTable([{ title: "A" }], [["1", "2"]])).toThrow();
  });
});

describe("formatters", () => {
  test("bytes in powers of 1024, one decimal below 10", () => {
    expect(formatBytes(7.8 * 1024 ** 3)).toBe("7.8G");
    expect(formatBytes(512 * 1024 ** 2)).toBe("512M");
    expect(formatBytes(15 * 1024 ** 3)).toBe("15G");
    expect(formatBytes(0)).toBe("0B");
    expect(formatBytes(1000)).toBe("1000B");
    expect(formatBytes(1024)).toBe("1.0K");
    expect(formatBytes(9.97 * 1024 ** 2)).toBe("10M");
    expect(formatBytes(1023.7 * 1024 ** 2)).toBe("1.0G");
    expect(formatBytes(null)).toBe("-");
    expect(formatBytes(Number.NaN)).toBe("-");
  });

  test("percent", () => {
    expect(formatPercent(12.3)).toBe("12%");
    expect(formatPercent(99.6)).toBe("100%");
    expect(formatPercent(0.25, 1)).toBe("0.3%");
    expect(formatPercent(undefined)).toBe("-");
  });

  test("age is coarse: seconds, minutes, hours, days", () => {
    expect(formatAge(0)).toBe("0s");
    expect(formatAge(3400)).toBe("3s");
    expect(formatAge(59_999)).toBe("59s");
    expect(formatAge(125_000)).toBe("2m");
    expect(formatAge(3 * 3600_000)).toBe("3h");
    expect(formatAge(47 * 3600_000)).toBe("47h");
    expect(formatAge(72 * 3600_000)).toBe("3d");
    expect(formatAge(-5)).toBe("0s");
    expect(formatAge(null)).toBe("-");
  });

  test("load and counts", () => {
    expect(formatLoad(0.5)).toBe("0.50");
    expect(formatLoad(null)).toBe("-");
    expect(formatCount(8)).toBe("8");
    expect(formatCount(null)).toBe("-");
  });
});

describe("formatTime and truncate", () => {
  test("times are compact UTC, to the minute or the second", () => {
    expect(formatTime("2026-11-22T21:04:09.999Z")).toBe("2026-11-22 21:04");
    expect(formatTime("2026-11-22T23:04:09+02:00", true)).toBe("2026-11-22 21:04:09");
    expect(formatTime(Date.UTC(2026, 10, 22, 21, 4, 9))).toBe("2026-11-22 21:04");
    expect(formatTime(null)).toBe("-");
    expect(formatTime(undefined)).toBe("-");
    expect(formatTime("")).toBe("-");
  });

  test("a value that is not a time is shown as it is", () => {
    expect(formatTime("someday")).toBe("someday");
    expect(formatTime(1e300)).toBe("-");
  });

  test("truncate cuts to the width, ending in an ellipsis", () => {
    expect(truncate("short", 10)).toBe("short");
    expect(truncate("exactly10!", 10)).toBe("exactly10!");
    expect(truncate("eleven char", 10)).toBe("eleven ch…");
    expect(truncate("eleven char", 10)).toHaveLength(10);
    expect(() => truncate("x", 0)).toThrow();
  });
});
