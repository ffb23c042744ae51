import { describe, expect, it } from "vitest";
import { elapsedSince, pad2, splitElapsed } from "./elapsed";

describe("elapsed time", () => {
  it("splits into hours, minutes and seconds with the largest unit", () => {
    expect(splitElapsed(42_900)).toEqual({ unit: "seconds", hours: 0, minutes: 0, seconds: 42 });
    expect(splitElapsed(185_000)).toEqual({ unit: "minutes", hours: 0, minutes: 3, seconds: 5 });
    expect(splitElapsed(3_725_000)).toEqual({ unit: "hours", hours: 1, minutes: 2, seconds: 5 });
    expect(splitElapsed(50 * 3_600_000)).toMatchObject({ unit: "hours", hours: 50 });
  });

  it("counts a start in the future (a clock ahead) as zero", () => {
    expect(splitElapsed(-5_000)).toEqual({ unit: "seconds", hours: 0, minutes: 0, seconds: 0 });
  });

  it("measures from an ISO start", () => {
    const start = "2025-01-01T10:00:00Z";
    expect(elapsedSince(start, Date.parse("2025-01-01T10:01:30Z"))).toMatchObject({ unit: "minutes", minutes: 1, seconds: 30 });
    expect(elapsedSince(null, 0)).toBeNull();
    expect(elapsedSince("not a date", 0)).toBeNull();
  });

  it("pads the smaller unit", () => {
    expect(pad2(5)).toBe("05");
    expect(pad2(42)).toBe("42");
  });
});
