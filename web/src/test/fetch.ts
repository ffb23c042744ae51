// A scripted `fetch` for component tests: answers by method and `/api/v1` path, records every
// call, and answers a route it was not given as the server does for a route it lacks (404
// `route_not_found`, which the UI reads as "not on this server").
import { vi } from "vitest";

export interface Call {
  method: string;
  /** The path after `/api/v1` with its query (`/runs/r1/files?x=1`), or the whole URL otherwise. */
  path: string;
  url: string;
  body: unknown;
}

/** An answer: a JSON body (status 200), a `Response`, or a function of the call returning either. */
export type Answer = unknown | Response | ((call: Call) => unknown | Response | Promise<unknown | Response>);

/** A JSON error body the way the backend sends it. */
export function apiError(status: number, code: string, message = code): Response {
  return new Response(JSON.stringify({ error: { code, message } }), { status, headers: { "content-type": "application/json" } });
}

export function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}

/**
 * Replaces `global.fetch` for the current test (restored by `vi.restoreAllMocks()`, which the
 * render helper runs after each test). `routes` are keyed `"GET /runs/r1/files"`; a key without a
 * method answers any method; a key ending in `*` matches by prefix; the query is ignored unless
 * the key has one.
 */
export function mockFetch(routes: Record<string, Answer>) {
  const calls: Call[] = [];
  const spy = vi.spyOn(globalThis, "fetch").mockImplementation(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    const method = (init?.method ?? (input instanceof Request ? input.method : "GET")).toUpperCase();
    const parsed = new URL(url, "http://localhost");
    const path = parsed.pathname.startsWith("/api/v1") ? parsed.pathname.slice("/api/v1".length) + parsed.search : url;
    let body: unknown = init?.body;
    if (typeof body === "string") {
      try {
        body = JSON.parse(body);
      } catch {
        // not JSON: kept as text
      }
    }
    const call: Call = { method, path, url, body };
    calls.push(call);
    const answer = find(routes, method, path);
    if (answer === undefined) return apiError(404, "route_not_found", `no route for ${method} ${path}`);
    const value = typeof answer === "function" ? await (answer as (c: Call) => unknown)(call) : answer;
    return value instanceof Response ? value : json(value);
  });
  return { calls, spy };
}

function find(routes: Record<string, Answer>, method: string, path: string): Answer | undefined {
  const bare = path.split("?")[0]!;
  for (const [key, answer] of Object.entries(routes)) {
    const [m, p] = key.includes(" ") ? (key.split(" ", 2) as [string, string]) : [null, key];
    if (m && m.toUpperCase() !== method) continue;
    const target = p.includes("?") ? path : bare;
    if (p.endsWith("*") ? target.startsWith(p.slice(0, -1)) : target === p) return answer;
  }
  return undefined;
}
