import { describe, expect, it } from "vitest";
import { wsUrl } from "./wsUrl";

const loc = (href: string) => {
  const u = new URL(href);
  return { protocol: u.protocol, hostname: u.hostname, port: u.port, host: u.host };
};

describe("WebSocket URL", () => {
  it("uses NEXT_PUBLIC_WS_URL when set", () => {
    expect(wsUrl(loc("http://localhost:3000/"), "ws://api.example:9000")).toBe("ws://api.example:9000/api/v1/ws");
    expect(wsUrl(loc("http://x/"), "wss://e.com/")).toBe("wss://e.com/api/v1/ws");
    expect(wsUrl(loc("http://x/"), "wss://e.com/api/v1/ws")).toBe("wss://e.com/api/v1/ws");
  });
  it("goes to port 8000 from a page on port 3000", () => {
    expect(wsUrl(loc("http://localhost:3000/sessions/1"), undefined)).toBe("ws://localhost:8000/api/v1/ws");
    expect(wsUrl(loc("http://[::1]:3000/"), "")).toBe("ws://[::1]:8000/api/v1/ws");
  });
  it("is same-origin otherwise", () => {
    expect(wsUrl(loc("https://app.example.com/"), undefined)).toBe("wss://app.example.com/api/v1/ws");
    expect(wsUrl(loc("http://127.0.0.1:4123/"), undefined)).toBe("ws://127.0.0.1:4123/api/v1/ws");
  });
});
