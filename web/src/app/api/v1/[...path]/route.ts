// Same-origin proxy: the browser calls `/api/v1/*` here and this forwards it to the backend
// (`BACKEND_URL`, read at run time; `POCO_BACKEND_URL` is the legacy name). Bodies are streamed
// both ways, redirects are passed back instead of followed, and `/api/v1/internal/*` is refused.
// `X-Forwarded-For` is the browser's socket address recorded by server/client-ip.cjs, never the
// client's own header (see forwardRequestHeaders).
import { backendUrl, errorResponse, forwardRequestHeaders, forwardResponseHeaders, upstreamPath } from "@/lib/proxy";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

async function proxy(req: Request): Promise<Response> {
  const url = new URL(req.url);
  const path = upstreamPath(url.pathname, url.search);
  if (path === null) return errorResponse(404, "not_found", "route not found");
  const base = backendUrl();
  if (base === null) {
    return errorResponse(502, "bad_gateway", "the web server has no valid BACKEND_URL configured");
  }
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

export const GET = proxy;
export const HEAD = proxy;
export const POST = proxy;
export const PUT = proxy;
export const PATCH = proxy;
export const DELETE = proxy;
export const OPTIONS = proxy;
