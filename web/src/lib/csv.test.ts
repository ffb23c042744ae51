import { describe, expect, it } from "vitest";
import { delimiterFor, parseCsv } from "./csv";

describe("parseCsv", () => {
  it("splits records and fields", () => {
    expect(parseCsv("a,b,c\n1,2,3\n").rows).toEqual([
      ["a", "b", "c"],
      ["1", "2", "3"],
    ]);
  });

  it("accepts CRLF, LF and CR line breaks, with or without a final one", () => {
    expect(parseCsv("a,b\r\n1,2\r\n").rows).toEqual([["a", "b"], ["1", "2"]]);
    expect(parseCsv("a,b\r1,2").rows).toEqual([["a", "b"], ["1", "2"]]);
    expect(parseCsv("a,b\n1,2").rows).toEqual([["a", "b"], ["1", "2"]]);
  });

  it("reads quoted fields with separators, line breaks and doubled quotes", () => {
    const text = 'name,quote\r\n"Smith, J.","He said ""hi""\r\nand left"\r\n"",x\r\n';
    expect(parseCsv(text).rows).toEqual([
      ["name", "quote"],
      ["Smith, J.", 'He said "hi"\r\nand left'],
      ["", "x"],
    ]);
  });

  it("keeps empty fields and empty records in the middle", () => {
    expect(parseCsv(",a,\n\nb").rows).toEqual([["", "a", ""], [""], ["b"]]);
    expect(parseCsv("a,\n").rows).toEqual([["a", ""]]);
    expect(parseCsv("").rows).toEqual([]);
  });

  it("is lenient with stray quotes and reports an unterminated one", () => {
    expect(parseCsv('a"b,c').rows).toEqual([['a"b', "c"]]);
    expect(parseCsv('"a"b,c').rows).toEqual([["ab", "c"]]);
    const open = parseCsv('x,"never closed\nstill');
    expect(open.rows).toEqual([["x", "never closed\nstill"]]);
    expect(open.unterminated).toBe(true);
  });

  it("drops a byte-order mark and stops after maxRows", () => {
    expect(parseCsv("\ufeffa,b\n1,2").rows[0]).toEqual(["a", "b"]);
    const r = parseCsv("1\n2\n3\n4\n", { maxRows: 2 });
    expect(r.rows).toEqual([["1"], ["2"]]);
    expect(r.truncated).toBe(true);
    expect(parseCsv("1\n2\n", { maxRows: 2 }).truncated).toBe(false);
  });

  it("uses tabs for .tsv", () => {
    expect(parseCsv("a\tb,c\n", { delimiter: delimiterFor("x.tsv") }).rows).toEqual([["a", "b,c"]]);
    expect(delimiterFor("x.csv")).toBe(",");
  });
});
