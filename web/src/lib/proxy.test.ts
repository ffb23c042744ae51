import { describe, expect, it } from "vitest";
import { createRequire } from "node:module";
import http from "node:http";
import type { AddressInfo } from "node:net";
import {
  backendUrl,
  CLIENT_IP_HEADER,
  clientIpRecorded,
  docsPath,
  forward,
  forwardRequestHeaders,
  forwardResponseHeaders,
  upstreamPath,
} from "./proxy";

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
    const out = forwardRequestHeaders(h, new URL("https://web.example:3000/api/v1/tasks"), false);
    expect(out.get("cookie")).toBe("workcell_token=abc");
    expect(out.get("content-type")).toBe("application/json");
    expect(out.get("x-forwarded-host")).toBe("web.example:3000");
    expect(out.get("x-forwarded-proto")).toBe("https");
    for (const gone of ["connection", "keep-alive", "x-secret-hop", "transfer-encoding", "upgrade", "host", "x-internal-token"]) {
      expect(out.has(gone), gone).toBe(false);
    }
  });

  it("overwrites X-Forwarded-For with the recorded client address, never the client's", () => {
    const url = new URL("http://127.0.0.1:3000/api/v1/auth/login");
    const forged = {
      "x-forwarded-for": "6.6.6.6, 127.0.0.1",
      "x-real-ip": "6.6.6.6",
      forwarded: "for=6.6.6.6",
    };
    // Recorded by the server entry: exactly that address, nothing appended.
    let out = forwardRequestHeaders(new Headers({ ...forged, [CLIENT_IP_HEADER]: "127.0.0.2" }), url, true);
    expect(out.get("x-forwarded-for")).toBe("127.0.0.2");
    for (const gone of ["x-real-ip", "forwarded", CLIENT_IP_HEADER]) expect(out.has(gone), gone).toBe(false);
    out = forwardRequestHeaders(new Headers({ [CLIENT_IP_HEADER]: "2001:db8::7" }), url, true);
    expect(out.get("x-forwarded-for")).toBe("2001:db8::7");
    // Not an address (or a list): nothing.
    for (const bad of ["6.6.6.6, 127.0.0.2", "localhost", ""]) {
      out = forwardRequestHeaders(new Headers({ [CLIENT_IP_HEADER]: bad }), url, true);
      expect(out.has("x-forwarded-for"), bad).toBe(false);
    }
    // Without the server entry the header is the client's own: neither it nor theirs is sent.
    out = forwardRequestHeaders(new Headers({ ...forged, [CLIENT_IP_HEADER]: "127.0.0.2" }), url, false);
    expect(out.has("x-forwarded-for")).toBe(false);
    expect(out.has(CLIENT_IP_HEADER)).toBe(false);
  });

  it("the server entry records the socket's peer and drops the client's value", async () => {
    expect(clientIpRecorded()).toBe(false);
    const require = createRequire(import.meta.url);
    require("../../server/client-ip.cjs");
    expect(clientIpRecorded()).toBe(true);
    const server = http.createServer((req, res) => {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ header: req.headers[CLIENT_IP_HEADER], raw: req.rawHeaders }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    try {
      for (const local of ["127.0.0.2", "127.0.0.3"]) {
        const body = await new Promise<{ header: string; raw: string[] }>((resolve, reject) => {
          const req = http.get(
            { host: "127.0.0.1", port, localAddress: local, headers: { [CLIENT_IP_HEADER]: "6.6.6.6", "X-Workcell-Client-IP": "7.7.7.7" } },
            (res) => {
              let data = "";
              res.on("data", (c) => (data += c));
              res.on("end", () => resolve(JSON.parse(data)));
            },
          );
          req.on("error", reject);
        });
        expect(body.header).toBe(local);
        expect(body.raw.join(" ")).not.toMatch(/6\.6\.6\.6|7\.7\.7\.7/);
      }
    } finally {
      server.close();
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

  it("reaches the API reference's page and its files, nothing else under /api/docs", () => {
    expect(docsPath("/api/docs", "")).toBe("/api/docs");
    expect(docsPath("/api/docs/", "")).toBe("/api/docs/");
    expect(docsPath("/api/docs/swagger-ui-bundle.js", "?v=1")).toBe("/api/docs/swagger-ui-bundle.js?v=1");
    for (const p of [
      "/api/docsx",
      "/api/docs/a/b.js",
      "/api/docs/..",
      "/api/docs/%2e%2e",
      "/api/docs/..%2Fv1%2Finternal%2Fruns%2Fclaim",
      "/api/docs/a%5Cb",
      "/api/docs/%E0%A4%A",
      "/api/v1/sessions",
    ]) {
      expect(docsPath(p, ""), p).toBeNull();
    }
  });

  it("forwards the API reference to the backend like the API proxy does", async () => {
    const seen: { url?: string; internal?: string } = {};
    const backend = http.createServer((req, res) => {
      seen.url = req.url;
      seen.internal = req.headers["x-internal-token"] as string | undefined;
      res.setHeader("content-type", "text/css");
      res.end("body{}");
    });
    await new Promise<void>((resolve) => backend.listen(0, "127.0.0.1", resolve));
    const { port } = backend.address() as AddressInfo;
    const saved = process.env.BACKEND_URL;
    process.env.BACKEND_URL = `http://127.0.0.1:${port}`;
    try {
      const req = new Request("http://web.example/api/docs/swagger-ui.css", {
        headers: { "x-internal-token": "nope" },
      });
      const url = new URL(req.url);
      const res = await forward(req, docsPath(url.pathname, url.search));
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("text/css");
      expect(await res.text()).toBe("body{}");
      expect(seen).toEqual({ url: "/api/docs/swagger-ui.css", internal: undefined });
      const refused = await forward(req, docsPath("/api/docs/../v1/internal/runs/claim", ""));
      expect(refused.status).toBe(404);
      expect(await refused.json()).toEqual({ error: { code: "not_found", message: "route not found" } });
    } finally {
      if (saved === undefined) delete process.env.BACKEND_URL;
      else process.env.BACKEND_URL = saved;
      backend.close();
    }
  });
});
