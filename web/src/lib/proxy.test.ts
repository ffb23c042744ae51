import { describe, expect, it } from "vitest";
import { backendUrl, forwardRequestHeaders, forwardResponseHeaders, upstreamPath } from "./proxy";

describe("proxy rules", () => {
  it("reads BACKEND_URL, else the legacy POCO_BACKEND_URL", () => {
    expect(backendUrl({ BACKEND_URL: "http://b:8000/" })).toBe("http://b:8000");
    expect(backendUrl({ POCO_BACKEND_URL: "http://legacy:8000" })).toBe("http://legacy:8000");
    expect(backendUrl({ BACKEND_URL: "http://new", POCO_BACKEND_URL: "http://old" })).toBe("http://new");
    expect(backendUrl({})).toBeNull();
    expect(backendUrl({ BACKEND_URL: "file:///etc/passwd" })).toBeNull();
  });

  it("refuses the internal API however it is spelled", () => {
    for (const p of [
      "/api/v1/internal/tasks/claim",
      "/api/v1/INTERNAL/x",
      "/api/v1/%69nternal/x",
      "/api/v1/internal",
      "/api/v1/sessions/..%2Finternal",
      "/api/v1/sessions/%2e%2e/internal/x",
      "/api/v1/a%2Fb",
      "/api/v1/%E0%A4%A",
    ]) {
      expect(upstreamPath(p, ""), p).toBeNull();
    }
  });

  it("passes public paths and queries through", () => {
    expect(upstreamPath("/api/v1/sessions", "?limit=5")).toBe("/api/v1/sessions?limit=5");
    expect(upstreamPath("/api/v1/sessions/abc/events", "?after=3")).toBe("/api/v1/sessions/abc/events?after=3");
  });

  it("drops hop-by-hop and internal headers and adds x-forwarded-*", () => {
    const h = new Headers({
      connection: "keep-alive, x-secret-hop",
      "keep-alive": "timeout=5",
      "x-secret-hop": "1",
      "transfer-encoding": "chunked",
      upgrade: "websocket",
      host: "web.example:3000",
      cookie: "workcell_token=abc",
      "x-internal-token": "nope",
      "x-forwarded-for": "10.0.0.1",
      "content-type": "application/json",
    });
    const out = forwardRequestHeaders(h, new URL("https://web.example:3000/api/v1/tasks"));
    expect(out.get("cookie")).toBe("workcell_token=abc");
    expect(out.get("content-type")).toBe("application/json");
    expect(out.get("x-forwarded-for")).toBe("10.0.0.1");
    expect(out.get("x-forwarded-host")).toBe("web.example:3000");
    expect(out.get("x-forwarded-proto")).toBe("https");
    for (const gone of ["connection", "keep-alive", "x-secret-hop", "transfer-encoding", "upgrade", "host", "x-internal-token"]) {
      expect(out.has(gone), gone).toBe(false);
    }
  });

  it("keeps every Set-Cookie of the answer and drops encodings fetch already undid", () => {
    const h = new Headers();
    h.append("set-cookie", "a=1; Path=/");
    h.append("set-cookie", "b=2; Path=/");
    h.set("content-encoding", "gzip");
    h.set("content-length", "10");
    h.set("location", "/elsewhere");
    h.set("connection", "close");
    const out = forwardResponseHeaders(h);
    expect(out.getSetCookie()).toEqual(["a=1; Path=/", "b=2; Path=/"]);
    expect(out.has("content-encoding")).toBe(false);
    expect(out.has("content-length")).toBe(false);
    expect(out.has("connection")).toBe(false);
    expect(out.get("location")).toBe("/elsewhere");
  });
});
