import { describe, expect, it } from "vitest";
import { sessionListPath } from "./sessions";

describe("session list paths", () => {
  it("names only the filters that are set", () => {
    expect(sessionListPath({}, null)).toBe("/sessions?limit=50");
    expect(sessionListPath({ projectId: "p1", status: "running", pinned: false }, "123_abc", 20)).toBe(
      "/sessions?limit=20&project_id=p1&status=running&pinned=false&cursor=123_abc",
    );
    expect(sessionListPath({ pinned: true }, null, 200)).toBe("/sessions?limit=200&pinned=true");
  });
});
