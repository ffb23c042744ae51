// Same-origin proxy: the browser calls `/api/v1/*` here and this forwards it to the backend
// (`BACKEND_URL`, read at run time; `POCO_BACKEND_URL` is the legacy name). Bodies are streamed
// both ways, redirects are passed back instead of followed, and `/api/v1/internal/*` is refused.
// `X-Forwarded-For` is the browser's socket address recorded by server/client-ip.cjs, never the
// client's own header (see forwardRequestHeaders).
import { forward, upstreamPath } from "@/lib/proxy";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

async function proxy(req: Request): Promise<Response> {
  const url = new URL(req.url);
  return forward(req, upstreamPath(url.pathname, url.search));
}

export const GET = proxy;
export const HEAD = proxy;
export const POST = proxy;
export const PUT = proxy;
export const PATCH = proxy;
export const DELETE = proxy;
export const OPTIONS = proxy;
