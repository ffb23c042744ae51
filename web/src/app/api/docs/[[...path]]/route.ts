// Same-origin route to the backend's API reference: `/api/docs` (the Swagger UI page) and its
// files `/api/docs/<file>`, which load the OpenAPI document from `/api/v1/openapi.json` through
// the API proxy beside this one. The same forwarding as the API proxy (src/lib/proxy.ts); only
// reads.
import { docsPath, forward } from "@/lib/proxy";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

async function docs(req: Request): Promise<Response> {
  const url = new URL(req.url);
  return forward(req, docsPath(url.pathname, url.search));
}

export const GET = docs;
export const HEAD = docs;
