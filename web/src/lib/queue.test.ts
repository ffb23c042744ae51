import { describe, expect, it } from "vitest";
import { ApiError } from "./api";
import { isNotQueued } from "./queue";

describe("queued follow-ups", () => {
  it("knows a follow-up that already started by its code", () => {
    expect(isNotQueued(new ApiError(409, "not_queued", "run is running"))).toBe(true);
    expect(isNotQueued(new ApiError(409, "already_answered", "not queued"))).toBe(false);
    expect(isNotQueued(new ApiError(404, "not_found", "not_queued"))).toBe(false);
    expect(isNotQueued(new TypeError("fetch failed"))).toBe(false);
  });
});
