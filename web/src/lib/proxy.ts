// The same-origin API proxy's rules, kept apart from the route handler so they can be tested.
// Only the Next.js server runs this; the backend URL never reaches the browser.
import { isIP } from "node:net";
import type { ErrorBody, ErrorCode } from "@/generated/protocol";

/** Headers that describe one connection, not the message: never forwarded (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

/** Request headers the proxy sets itself or must not pass on. */
const REQUEST_DROP = new Set(["host", "content-length", "x-internal-token", "expect"]);

/**
 * Set by the server entry (web/server/client-ip.cjs) on every request, from the socket of the
 * browser's connection, after dropping any value the client sent.
 */
export const CLIENT_IP_HEADER = "x-workcell-client-ip";

/**
 * Whether this process was started with web/server/client-ip.cjs. Without it (e.g. `next dev`)
 * `CLIENT_IP_HEADER` is whatever the client sent and is not forwarded.
 */
export function clientIpRecorded(): boolean {
  return (globalThis as Record<symbol, unknown>)[Symbol.for("workcell.clientIpHeader")] === CLIENT_IP_HEADER;
}

/**
 * Headers that say who the client is. The proxy writes `X-Forwarded-For` itself; a client's
 * values are never passed on (the backend trusts this proxy's header, see TRUSTED_PROXIES).
 */
const CLIENT_DROP = new Set(["x-forwarded-for", "x-real-ip", "forwarded", CLIENT_IP_HEADER]);

/** Response headers that no longer describe the body once `fetch` has decoded it. */
const RESPONSE_DROP = new Set(["content-encoding", "content-length"]);

/** The backend's base URL, read at every request so it can change without a rebuild. */
export function backendUrl(env: Record<string, string | undefined> = process.env): string | null {
  const raw = env.BACKEND_URL?.trim() || env.POCO_BACKEND_URL?.trim();
  if (!raw) return null;
  try {
    const u = new URL(raw);
    if (u.protocol !== "http:" && u.protocol !== "https:") return null;
    return raw.replace(/\/+$/, "");
  } catch {
    return null;
  }
}

/**
 * The backend path and query for a request to `/api/v1/...`, or `null` when it must be refused:
 * anything under `/api/v1/internal` (however it is spelled or encoded) and any path whose
 * segments would be normalised into something else (`.`, `..`, encoded slashes).
 */
export function upstreamPath(pathname: string, search: string): string | null {
  const prefix = "/api/v1/";
  if (!pathname.startsWith(prefix)) return null;
  const rest = pathname.slice(prefix.length);
  const segments = rest.split("/");
  for (const raw of segments) {
    let seg: string;
    try {
      seg = decodeURIComponent(raw);
    } catch {
      return null;
    }
    if (seg === "." || seg === ".." || seg.includes("/") || seg.includes("\\") || seg.includes("\0")) return null;
  }
  const first = decodeURIComponent(segments[0] ?? "").trim().toLowerCase();
  if (first === "internal" || first.startsWith("internal;")) return null;
  return `${prefix}${rest}${search}`;
}

/** The API reference's page on the backend (`GET /api/docs`, Swagger UI) and its files' prefix. */
export const DOCS_PATH = "/api/docs";

/**
 * The backend path and query for a request to the API reference: the page itself (`/api/docs`,
 * `/api/docs/`) or one of its files, `/api/docs/<file>` with `<file>` one plain segment. Anything
 * else (deeper paths, `.`, `..`, encoded slashes) is `null`.
 */
export function docsPath(pathname: string, search: string): string | null {
  if (pathname === DOCS_PATH || pathname === `${DOCS_PATH}/`) return `${pathname}${search}`;
  if (!pathname.startsWith(`${DOCS_PATH}/`)) return null;
  const raw = pathname.slice(DOCS_PATH.length + 1);
  if (raw.includes("/")) return null;
  let file: string;
  try {
    file = decodeURIComponent(raw);
  } catch {
    return null;
  }
  if (file === "" || file === "." || file === ".." || file.includes("/") || file.includes("\\") || file.includes("\0")) {
    return null;
  }
  return `${DOCS_PATH}/${raw}${search}`;
}

function connectionTokens(headers: Headers): Set<string> {
  const listed = headers.get("connection") ?? "";
  return new Set(
    listed
      .split(",")
      .map((t) => t.trim().toLowerCase())
      .filter(Boolean),
  );
}

/**
 * The headers sent to the backend. `X-Forwarded-For` is exactly the address of the browser's
 * connection (`CLIENT_IP_HEADER`, when `clientIpTrusted`), never anything the client sent; without
 * a recorded address there is none, and the backend counts the request as this server's.
 */
export function forwardRequestHeaders(incoming: Headers, requestUrl: URL, clientIpTrusted = clientIpRecorded()): Headers {
  const extra = connectionTokens(incoming);
  const out = new Headers();
  incoming.forEach((value, name) => {
    const n = name.toLowerCase();
    if (HOP_BY_HOP.has(n) || REQUEST_DROP.has(n) || CLIENT_DROP.has(n) || extra.has(n)) return;
    out.append(name, value);
  });
  const client = clientIpTrusted ? incoming.get(CLIENT_IP_HEADER)?.trim() : undefined;
  if (client && isIP(client) !== 0) out.set("x-forwarded-for", client);
  if (!out.has("x-forwarded-host")) out.set("x-forwarded-host", incoming.get("host") ?? requestUrl.host);
  if (!out.has("x-forwarded-proto")) out.set("x-forwarded-proto", requestUrl.protocol.replace(":", ""));
  return out;
}

/** The headers sent back to the browser (every `Set-Cookie` kept separately). */
export function forwardResponseHeaders(upstream: Headers): Headers {
  const extra = connectionTokens(upstream);
  const out = new Headers();
  upstream.forEach((value, name) => {
    const n = name.toLowerCase();
    if (n === "set-cookie" || HOP_BY_HOP.has(n) || RESPONSE_DROP.has(n) || extra.has(n)) return;
    out.append(name, value);
  });
  for (const cookie of upstream.getSetCookie()) out.append("set-cookie", cookie);
  return out;
}

/** The platform's error body, `{"error":{"code","message"}}`, answered by the proxy itself. */
export function errorResponse(status: number, code: ErrorCode, message: string): Response {
  const body: ErrorBody = { error: { code, message } };
  return Response.json(body, { status });
}

/**
 * Forwards `req` to the backend's `path` (from {@link upstreamPath} or {@link docsPath}; `null`
 * answers 404): bodies streamed both ways, redirects passed back instead of followed.
 */
export async function forward(req: Request, path: string | null): Promise<Response> {
  if (path === null) return errorResponse(404, "not_found", "route not found");
  const base = backendUrl();
  if (base === null) {
    return errorResponse(502, "bad_gateway", "the web server has no valid BACKEND_URL configured");
  }
  const url = new URL(req.url);
  const hasBody = req.method !== "GET" && req.method !== "HEAD" && req.body !== null;
  let upstream: Response;
  try {
    upstream = await fetch(`${base}${path}`, {
      method: req.method,
      headers: forwardRequestHeaders(req.headers, url),
      body: hasBody ? req.body : undefined,
      redirect: "manual",
      cache: "no-store",
      signal: req.signal,
      // Required by Node's fetch to stream a request body.
      ...(hasBody ? { duplex: "half" } : {}),
    } as RequestInit);
  } catch {
    return errorResponse(502, "bad_gateway", "the backend cannot be reached");
  }
  return new Response(upstream.body, {
    status: upstream.status,
    statusText: upstream.statusText,
    headers: forwardResponseHeaders(upstream.headers),
  });
}
