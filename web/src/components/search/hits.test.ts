import { describe, expect, it } from "vitest";
import { hitHref, searchPath } from "./hits";

describe("hitHref", () => {
  it("opens the session at the hit's event", () => {
    expect(hitHref({ session_id: "s1", run_id: "r1", seq: 42 })).toBe("/sessions/s1?seq=42");
  });
  it("opens a prompt at its run and a title at the session", () => {
    expect(hitHref({ session_id: "s1", run_id: "r1", seq: null })).toBe("/sessions/s1?run=r1");
    expect(hitHref({ session_id: "s1", run_id: null, seq: null })).toBe("/sessions/s1");
  });
});

describe("searchPath", () => {
  it("encodes the query and adds the project and cursor when given", () => {
    expect(searchPath("a&b 数据", null, 20, null)).toBe("/search?q=a%26b+%E6%95%B0%E6%8D%AE&limit=20");
    expect(searchPath("x", "p1", 20, "c2")).toBe("/search?q=x&limit=20&project_id=p1&cursor=c2");
  });
});
