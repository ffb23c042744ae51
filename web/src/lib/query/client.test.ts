import { describe, expect, it } from "vitest";
import { ApiError } from "../api";
import { isRetryable, makeQueryClient, MAX_RETRIES, shouldRetry } from "./client";

describe("query retries", () => {
  it("never retries a refusal", () => {
    for (const status of [400, 401, 403, 404, 409, 410, 422]) expect(isRetryable(new ApiError(status, "not_found", "no"))).toBe(false);
  });

  it("retries the server's failures, timeouts, rate limits and the network", () => {
    for (const status of [408, 429, 500, 502, 503]) expect(isRetryable(new ApiError(status, "internal", "x"))).toBe(true);
    expect(isRetryable(new TypeError("Failed to fetch"))).toBe(true);
  });

  it("gives up after a few tries", () => {
    const e = new ApiError(503, "unavailable", "x");
    expect(shouldRetry(0, e)).toBe(true);
    expect(shouldRetry(MAX_RETRIES, e)).toBe(false);
  });

  it("sets the defaults on the client", () => {
    const q = makeQueryClient().getDefaultOptions().queries!;
    expect(q.retry).toBe(shouldRetry);
    expect(q.refetchOnWindowFocus).toBe(true);
  });
});
