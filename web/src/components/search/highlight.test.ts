import { describe, expect, it } from "vitest";
import { splitHighlights } from "./highlight";

const render = (snippet: string, ranges: [number, number][]) =>
  splitHighlights(snippet, ranges)
    .map((p) => (p.mark ? `[${p.text}]` : p.text))
    .join("");

describe("splitHighlights", () => {
  it("marks the given ranges and keeps the text between them", () => {
    expect(splitHighlights("fix the kubernetes deploy", [[8, 18]])).toEqual([
      { text: "fix the ", mark: false },
      { text: "kubernetes", mark: true },
      { text: " deploy", mark: false },
    ]);
    expect(render("a b c", [[0, 1], [4, 5]])).toBe("[a] b [c]");
  });

  it("returns the whole text unmarked without ranges", () => {
    expect(splitHighlights("plain", [])).toEqual([{ text: "plain", mark: false }]);
    expect(splitHighlights("", [])).toEqual([]);
  });

  it("counts UTF-16 code units, as the server does", () => {
    // "修复数据库连接": 数据库 is at 2..5.
    expect(render("修复数据库连接", [[2, 5]])).toBe("修复[数据库]连接");
    // An emoji takes two code units.
    expect(render("😀 bug here", [[3, 6]])).toBe("😀 [bug] here");
  });

  it("clamps, drops, sorts and merges ranges that are not clean", () => {
    expect(render("abcdef", [[4, 99]])).toBe("abcd[ef]");
    expect(render("abcdef", [[-3, 2]])).toBe("[ab]cdef");
    expect(render("abcdef", [[3, 3], [5, 2]])).toBe("abcdef");
    expect(render("abcdef", [[4, 5], [0, 1]])).toBe("[a]bcd[e]f");
    expect(render("abcdef", [[0, 3], [2, 4], [4, 5]])).toBe("[abcde]f");
  });

  it("never loses or repeats text", () => {
    const s = "the quick brown fox";
    const pieces = splitHighlights(s, [[4, 9], [6, 12], [16, 40], [2, 1]]);
    expect(pieces.map((p) => p.text).join("")).toBe(s);
  });
});
