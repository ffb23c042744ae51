import { describe, expect, it } from "vitest";
import { buildCsp, makeNonce, originOf, requestLocation, storageEndpoint, storageSources, wsFor } from "./csp";

const parse = (csp: string) => new Map(csp.split("; ").map((d) => [d.split(" ")[0], d.split(" ").slice(1)] as const));

describe("buildCsp", () => {
  const base = { nonce: "abc123==", dev: false, ws: "ws://127.0.0.1:8000/api/v1/ws", api: null, storage: "http://127.0.0.1:9000" };

  it("holds scripts to the nonce and names every directive the app needs", () => {
    const p = parse(buildCsp(base));
    expect(p.get("default-src")).toEqual(["'self'"]);
    expect(p.get("script-src")).toEqual(["'self'", "'nonce-abc123=='", "'strict-dynamic'"]);
    expect(p.get("style-src")).toEqual(["'self'", "'unsafe-inline'"]);
    expect(p.get("object-src")).toEqual(["'none'"]);
    expect(p.get("base-uri")).toEqual(["'self'"]);
    expect(p.get("form-action")).toEqual(["'self'"]);
    expect(p.get("frame-ancestors")).toEqual(["'none'"]);
    expect(p.get("frame-src")).toEqual(["blob:"]);
  });

  it("connects to this origin and the WebSocket's only; images from the storage too", () => {
    const p = parse(buildCsp(base));
    expect(p.get("connect-src")).toEqual(["'self'", "ws://127.0.0.1:8000"]);
    expect(p.get("img-src")).toEqual(["'self'", "data:", "blob:", "https:", "http://127.0.0.1:9000"]);
  });

  it("falls back to any http(s) image when the storage is unknown, never to any connection", () => {
    const p = parse(buildCsp({ ...base, storage: null }));
    expect(p.get("connect-src")).toEqual(["'self'", "ws://127.0.0.1:8000"]);
    expect(p.get("img-src")).toEqual(["'self'", "data:", "blob:", "https:", "http:"]);
  });

  it("adds the direct API origin and, in development only, eval", () => {
    const p = parse(buildCsp({ ...base, dev: true, api: "https://api.example.com/base/" }));
    expect(p.get("connect-src")).toContain("https://api.example.com");
    expect(p.get("script-src")).toContain("'unsafe-eval'");
    expect(parse(buildCsp(base)).get("script-src")).not.toContain("'unsafe-eval'");
  });

  it("never lets a configured value inject a directive", () => {
    const csp = buildCsp({ ...base, ws: "ws://evil; script-src *", storage: "javascript:alert(1)" });
    expect(csp).not.toContain("script-src *");
    expect(csp).not.toContain("javascript:");
  });
});

describe("origins", () => {
  it("originOf keeps scheme, host and port only", () => {
    expect(originOf("https://s3.example.com:8443/bucket/key?X-Amz=1")).toBe("https://s3.example.com:8443");
    expect(originOf("wss://h/api/v1/ws")).toBe("wss://h");
    expect(originOf("ftp://h")).toBeNull();
    expect(originOf("")).toBeNull();
    expect(originOf("not a url")).toBeNull();
  });

  it("storage: subdomains too for a named host (virtual-hosted buckets), not for IPs or single labels", () => {
    expect(storageSources("https://acc.r2.cloudflarestorage.com")).toEqual([
      "https://acc.r2.cloudflarestorage.com",
      "https://*.acc.r2.cloudflarestorage.com",
    ]);
    expect(storageSources("http://127.0.0.1:9000")).toEqual(["http://127.0.0.1:9000"]);
    expect(storageSources("http://localhost:9000")).toEqual(["http://localhost:9000"]);
    expect(storageSources(null)).toBeNull();
  });

  it("storageEndpoint prefers the public endpoint, as the backend does", () => {
    expect(storageEndpoint({ S3_PUBLIC_ENDPOINT: "https://files.example.com", S3_ENDPOINT: "http://rustfs:9000" })).toBe(
      "https://files.example.com",
    );
    expect(storageEndpoint({ S3_ENDPOINT: "http://127.0.0.1:9000" })).toBe("http://127.0.0.1:9000");
    expect(storageEndpoint({})).toBeNull();
  });

  it("derives the WebSocket from the request like the browser does (port 3000 → 8000, forwarded https)", () => {
    const h = (o: Record<string, string>) => ({ get: (n: string) => o[n] ?? null });
    expect(wsFor(requestLocation("http://0.0.0.0:3000/x", h({ host: "localhost:3000" })), undefined)).toBe(
      "ws://localhost:8000/api/v1/ws",
    );
    expect(
      wsFor(requestLocation("http://0.0.0.0:3000/x", h({ host: "web:3000", "x-forwarded-host": "ui.example.com", "x-forwarded-proto": "https" })), undefined),
    ).toBe("wss://ui.example.com/api/v1/ws");
    expect(wsFor(requestLocation("http://h:3000/", h({})), "wss://ws.example.com")).toBe("wss://ws.example.com/api/v1/ws");
  });

  it("makes a fresh base64 nonce each time", () => {
    const a = makeNonce();
    expect(a).toMatch(/^[A-Za-z0-9+/]{22}==$/);
    expect(makeNonce()).not.toBe(a);
  });
});
