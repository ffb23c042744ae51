import { describe, expect, it } from "vitest";
import { BOM, csvField, toCsv } from "./csv";

describe("csvField", () => {
  it("leaves plain fields alone", () => {
    expect(csvField("claude-sonnet")).toBe("claude-sonnet");
    expect(csvField(12.5)).toBe("12.5");
    expect(csvField(0)).toBe("0");
    expect(csvField("项目")).toBe("项目");
  });
  it("quotes fields with a comma, a quote or a line break, doubling quotes", () => {
    expect(csvField("a,b")).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField("two\nlines")).toBe('"two\nlines"');
    expect(csvField("cr\rhere")).toBe('"cr\rhere"');
  });
  it("writes nothing for null and non-finite numbers", () => {
    expect(csvField(null)).toBe("");
    expect(csvField(undefined)).toBe("");
    expect(csvField(Number.NaN)).toBe("");
  });
});

describe("toCsv", () => {
  it("starts with a byte order mark and ends every line with CRLF", () => {
    const text = toCsv([
      ["name", "cost"],
      ["数据库, 迁移", 1.5],
      [null, 2],
    ]);
    expect(text.startsWith(BOM)).toBe(true);
    expect(text.slice(1)).toBe('name,cost\r\n"数据库, 迁移",1.5\r\n,2\r\n');
  });
});

describe("round trip", () => {
  it("reads back as written with the CSV preview's RFC 4180 parser", async () => {
    const { parseCsv } = await import("./csv");
    const rows = [
      ["名称", "a,b", 'q"uote', "multi\r\nline", ""],
      ["x", "1", "2.5", "", "end"],
    ];
    const parsed = parseCsv(toCsv(rows).slice(BOM.length));
    expect(parsed.rows.filter((r) => r.some((c) => c !== ""))).toEqual(rows);
    expect(parsed.unterminated).toBe(false);
  });
});
