import { describe, expect, it } from "vitest";
import type { DiffHunk, DiffLine } from "@/generated/protocol";
import { hunkHeader, hunksFromTexts, splitRows, unifiedRows, wordSegments } from "./wordDiff";

let o = 0;
let n = 0;
const ctx = (text: string): DiffLine => ({ kind: "context", old_line: ++o, new_line: ++n, text, no_newline: false });
const del = (text: string): DiffLine => ({ kind: "remove", old_line: ++o, new_line: null, text, no_newline: false });
const add = (text: string): DiffLine => ({ kind: "add", old_line: null, new_line: ++n, text, no_newline: false });
const hunk = (lines: DiffLine[]): DiffHunk => ({ old_start: 1, old_lines: 0, new_start: 1, new_lines: 0, lines });

describe("wordSegments", () => {
  it("marks the changed words on each side", () => {
    const w = wordSegments("let total = price * count;", "let total = price * quantity;")!;
    expect(w.old).toEqual([
      { text: "let total = price * ", changed: false },
      { text: "count", changed: true },
      { text: ";", changed: false },
    ]);
    expect(w.new).toEqual([
      { text: "let total = price * ", changed: false },
      { text: "quantity", changed: true },
      { text: ";", changed: false },
    ]);
  });

  it("keeps whitespace changes visible", () => {
    const w = wordSegments("a  b", "a b")!;
    expect(w.old.some((s) => s.changed && s.text.includes(" "))).toBe(true);
  });

  it("gives up on unrelated or very long lines", () => {
    expect(wordSegments("completely different", "nothing alike here at all")).toBeNull();
    expect(wordSegments("x".repeat(2000), "y" + "x".repeat(1999))).toBeNull();
    expect(wordSegments("same", "same")).toBeNull();
  });
});

describe("pairing", () => {
  it("pairs the i-th removed line with the i-th added one", () => {
    o = n = 0;
    const h = hunk([ctx("fn main() {"), del("    let a = 1;"), del("    let b = 2;"), add("    let a = 10;"), ctx("}")]);
    const split = splitRows(h);
    expect(split.map((r) => [r.kind, r.left?.line.text ?? null, r.right?.line.text ?? null])).toEqual([
      ["context", "fn main() {", "fn main() {"],
      ["change", "    let a = 1;", "    let a = 10;"],
      ["change", "    let b = 2;", null],
      ["context", "}", "}"],
    ]);
    expect(split[1]!.left?.segments?.find((s) => s.changed)?.text).toBe("1");
    expect(split[1]!.right?.segments?.find((s) => s.changed)?.text).toBe("10");
    expect(split[2]!.left?.segments).toBeNull();

    const unified = unifiedRows(h);
    expect(unified.map((r) => r.line.kind)).toEqual(["context", "remove", "remove", "add", "context"]);
    expect(unified[1]!.segments).not.toBeNull();
    expect(unified[2]!.segments).toBeNull();
  });

  it("starts a new block when a removal follows additions", () => {
    o = n = 0;
    const h = hunk([add("new one"), del("old two"), add("new two")]);
    const split = splitRows(h);
    expect(split.map((r) => [r.left?.line.text ?? null, r.right?.line.text ?? null])).toEqual([
      [null, "new one"],
      ["old two", "new two"],
    ]);
  });

  it("writes the unified hunk header", () => {
    expect(hunkHeader({ old_start: 3, old_lines: 4, new_start: 3, new_lines: 5, lines: [] })).toBe("@@ -3,4 +3,5 @@");
  });
});

describe("hunksFromTexts", () => {
  it("numbers lines on both sides and folds long unchanged stretches", () => {
    const before = Array.from({ length: 20 }, (_, i) => `line ${i + 1}`).join("\n") + "\n";
    const after = before.replace("line 2\n", "line two\n").replace("line 19\n", "line nineteen\n");
    const hunks = hunksFromTexts(before, after);
    expect(hunks).toHaveLength(2);
    expect(hunks[0]!.lines.filter((l) => l.kind !== "context").map((l) => [l.kind, l.old_line, l.new_line, l.text])).toEqual([
      ["remove", 2, null, "line 2"],
      ["add", null, 2, "line two"],
    ]);
    expect(hunks[1]!.old_start).toBe(16);
  });

  it("shows a new file as all added, and marks a missing final newline", () => {
    const hunks = hunksFromTexts("", "a\nb");
    expect(hunks[0]!.lines.map((l) => [l.kind, l.text, l.no_newline])).toEqual([
      ["add", "a", false],
      ["add", "b", true],
    ]);
    expect(hunksFromTexts("same\n", "same\n")).toEqual([]);
  });
});
