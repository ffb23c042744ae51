import { describe, expect, it } from "vitest";
import { addDays, apiRange, dayNumber, localIsoDate, matchingPreset, presetRange, rangeLength, rangeProblem } from "./range";

describe("days", () => {
  it("moves across months, years and leap days", () => {
    expect(addDays("2025-01-31", 1)).toBe("2025-02-01");
    expect(addDays("2025-01-01", -1)).toBe("2024-12-31");
    expect(addDays("2024-02-28", 1)).toBe("2024-02-29");
    expect(addDays("2025-03-01", -1)).toBe("2025-02-28");
  });
  it("refuses what is not a date", () => {
    expect(dayNumber("2025-02-30")).toBeNull();
    expect(dayNumber("2025-2-3")).toBeNull();
    expect(dayNumber("")).toBeNull();
    expect(() => addDays("nope", 1)).toThrow();
  });
  it("reads a date in the browser's zone", () => {
    expect(localIsoDate(new Date(2025, 0, 5, 23, 59))).toBe("2025-01-05");
  });
});

describe("presets", () => {
  it("ends today and counts today among the days", () => {
    expect(presetRange(7, "2025-03-10")).toEqual({ from: "2025-03-04", to: "2025-03-10" });
    expect(presetRange(30, "2025-03-10")).toEqual({ from: "2025-02-09", to: "2025-03-10" });
    expect(presetRange(90, "2025-03-10")).toEqual({ from: "2024-12-11", to: "2025-03-10" });
    expect(rangeLength(presetRange(90, "2025-03-10"))).toBe(90);
  });
  it("recognizes a preset range, and only one ending today", () => {
    expect(matchingPreset({ from: "2025-02-09", to: "2025-03-10" }, "2025-03-10")).toBe(30);
    expect(matchingPreset({ from: "2025-02-09", to: "2025-03-09" }, "2025-03-10")).toBeNull();
    expect(matchingPreset({ from: "2025-02-10", to: "2025-03-10" }, "2025-03-10")).toBeNull();
  });
});

describe("the range the API gets", () => {
  it("ends the day after the last one shown", () => {
    expect(apiRange({ from: "2025-03-04", to: "2025-03-10" })).toEqual({ from: "2025-03-04", to: "2025-03-11" });
    expect(apiRange({ from: "2025-12-01", to: "2025-12-31" })).toEqual({ from: "2025-12-01", to: "2026-01-01" });
  });
  it("says what the API would refuse", () => {
    expect(rangeProblem({ from: "2025-03-04", to: "2025-03-04" })).toBeNull();
    expect(rangeProblem({ from: "2025-03-05", to: "2025-03-04" })).toBe("order");
    expect(rangeProblem({ from: "", to: "2025-03-04" })).toBe("invalid");
    expect(rangeProblem({ from: "2024-01-01", to: "2024-12-31" })).toBeNull(); // 366 days (leap year)
    expect(rangeProblem({ from: "2024-01-01", to: "2025-01-01" })).toBe("too_long");
  });
});
