// Next.js 16's request proxy (formerly "middleware"): gives every page a fresh nonce and its
// Content-Security-Policy (built in src/lib/csp.ts). Next.js reads the nonce from the request's
// CSP header and puts it on its own scripts; the root layout reads `x-nonce` for its theme script.
// Not for /api/* (JSON, the API proxy, and /api/docs — Swagger UI's page comes from the backend
// with its own headers) nor for static files.
import { NextResponse, type NextRequest } from "next/server";
import { buildCsp, makeNonce, requestLocation, storageEndpoint, wsFor } from "@/lib/csp";

export function proxy(request: NextRequest) {
  const nonce = makeNonce();
  const csp = buildCsp({
    nonce,
    dev: process.env.NODE_ENV === "development",
    ws: wsFor(requestLocation(request.url, request.headers), process.env.NEXT_PUBLIC_WS_URL),
    api: process.env.NEXT_PUBLIC_API_URL ?? null,
    storage: storageEndpoint(process.env),
  });
  const headers = new Headers(request.headers);
  headers.set("x-nonce", nonce);
  headers.set("content-security-policy", csp);
  const response = NextResponse.next({ request: { headers } });
  response.headers.set("content-security-policy", csp);
  return response;
}

export const config = {
  matcher: [
    {
      source: "/((?!api/|_next/static|_next/image|favicon.ico).*)",
      missing: [
        { type: "header", key: "next-router-prefetch" },
        { type: "header", key: "purpose", value: "prefetch" },
      ],
    },
  ],
};
