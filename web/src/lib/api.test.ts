import { describe, expect, it } from "vitest";
import { ERROR_CODES } from "@/generated/protocol";
import { ApiError, errorFrom, knownCode, readableError } from "./api";
import { errorResponse } from "./proxy";

const answer = (status: number, body: unknown) =>
  new Response(typeof body === "string" ? body : JSON.stringify(body), { status });

describe("API errors", () => {
  it("reads the code and message of the error body", async () => {
    const e = await errorFrom(answer(409, { error: { code: "attachment_in_use", message: "a task needs it" } }));
    expect(e).toBeInstanceOf(ApiError);
    expect([e.status, e.code, e.message]).toEqual([409, "attachment_in_use", "a task needs it"]);
  });

  it("tells a missing route from a missing resource by the code alone", async () => {
    const route = await errorFrom(answer(404, { error: { code: "route_not_found", message: "anything" } }));
    expect(route.routeMissing).toBe(true);
    // A missing resource is not a missing feature, whatever its message says.
    const run = await errorFrom(answer(404, { error: { code: "not_found", message: "route not found" } }));
    expect(run.routeMissing).toBe(false);
  });

  it("reads a code from a newer server, and a body that is no error body, as unknown", async () => {
    const newer = await errorFrom(answer(503, { error: { code: "quota_exceeded", message: "later" } }));
    expect([newer.code, newer.message]).toEqual(["unknown", "later"]);
    const html = await errorFrom(answer(502, "<html>bad gateway</html>"));
    expect([html.status, html.code, html.message]).toEqual([502, "unknown", "request failed with status 502"]);
    expect(knownCode("lease_lost")).toBe("lease_lost");
    expect(knownCode("toString")).toBe("unknown");
  });

  it("knows every generated code once", () => {
    expect(new Set(ERROR_CODES).size).toBe(ERROR_CODES.length);
    for (const code of ERROR_CODES) expect(knownCode(code)).toBe(code);
  });

  it("says server failures in a friendly sentence chosen by code", () => {
    expect(readableError(new ApiError(502, "bad_gateway", "the backend cannot be reached"))).toBe(
      "The server cannot be reached right now. Try again in a moment.",
    );
    expect(readableError(new ApiError(500, "internal", "internal server error"))).toBe(
      "The server hit an unexpected error. Try again.",
    );
    // Refusals keep the server's own sentence.
    expect(readableError(new ApiError(409, "session_active", "the session has a run in progress"))).toBe(
      "The session has a run in progress",
    );
    expect(readableError(new ApiError(503, "shutting_down", "the service is shutting down"))).toBe(
      "The service is shutting down",
    );
  });

  it("the proxy's own answers have the platform's error shape", async () => {
    // The refused internal API is not a missing feature, though its message says "route not found".
    const e = await errorFrom(errorResponse(404, "not_found", "route not found"));
    expect([e.status, e.code, e.routeMissing]).toEqual([404, "not_found", false]);
    const down = await errorFrom(errorResponse(502, "bad_gateway", "the backend cannot be reached"));
    expect(down.code).toBe("bad_gateway");
  });
});
