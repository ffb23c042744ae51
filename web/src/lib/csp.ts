// The Content-Security-Policy of every page (set per request by src/proxy.ts).
//
// - Scripts: only those carrying this request's nonce (Next.js puts it on its own scripts, the
//   root layout on its theme script) and what they load ('strict-dynamic'). `'unsafe-eval'` in
//   development only (React's dev tools need it).
// - Styles: 'unsafe-inline', because React's `style={…}` attributes (virtualised rows, widths,
//   chart sizes) are inline styles, which a nonce cannot cover. Styles cannot run code.
// - Images: 'self', data: and blob:, plus `https:` for the remote images of agent Markdown. What
//   protects those is the click (src/components/RemoteImage.tsx renders a placeholder until the
//   reader asks for the image); a policy cannot see the click, so it allows every https image.
//   Plus the storage's origin (file previews use its presigned URLs; it may be plain http: in dev).
// - Connections: 'self', the live-updates WebSocket (another port in dev: src/lib/wsUrl.ts) and
//   the backend when `NEXT_PUBLIC_API_URL` sends the browser there. Not the storage: previews read
//   files through the backend's own `GET /runs/{id}/content` (same origin), and downloads are
//   navigations, not connections. The web server knows the storage's public address (for images)
//   only when `S3_PUBLIC_ENDPOINT` (or, as the backend's own default, `S3_ENDPOINT`) is in its
//   environment; without it, `http:` images are allowed too.
// - Frames: blob: only (the PDF preview is the file fetched and shown as a blob; the HTML preview
//   is a `srcdoc` iframe with `sandbox=""`, which needs no source and inherits this policy).
// - object-src 'none', base-uri 'self', form-action 'self', frame-ancestors 'none'.
import { wsUrl, type PageLocation } from "./wsUrl";

export interface CspInput {
  nonce: string;
  dev: boolean;
  /** Where the page's WebSocket goes (an absolute ws:/wss: URL), if known. */
  ws: string | null;
  /** `NEXT_PUBLIC_API_URL`, when the browser calls the backend directly. */
  api: string | null;
  /** The storage's public endpoint (presigned URLs point there); null when the server does not know it. */
  storage: string | null;
}

/** `scheme://host[:port]` of an absolute http(s)/ws(s) URL; null for anything else. */
export function originOf(url: string | null | undefined): string | null {
  if (!url || !url.trim()) return null;
  try {
    const u = new URL(url.trim());
    if (!["http:", "https:", "ws:", "wss:"].includes(u.protocol)) return null;
    return `${u.protocol}//${u.host}`;
  } catch {
    return null;
  }
}

/** Only what a CSP source list may hold: no spaces, semicolons, commas or quotes. */
function safeSource(s: string | null): string | null {
  return s && /^[a-z][a-z0-9+.-]*:\/\/[^\s;,'"]+$/i.test(s) ? s : null;
}

/** The storage's origin, and its subdomains (a virtual-hosted bucket is `bucket.host`) unless the
 * host is an IP address. */
export function storageSources(endpoint: string | null): string[] | null {
  const origin = safeSource(originOf(endpoint));
  if (!origin) return null;
  const u = new URL(origin);
  const ip = /^[\d.]+$/.test(u.hostname) || u.hostname.startsWith("[");
  const single = u.hostname === "localhost" || !u.hostname.includes(".");
  return ip || single ? [origin] : [origin, `${u.protocol}//*.${u.host}`];
}

export function buildCsp(input: CspInput): string {
  const ws = safeSource(originOf(input.ws));
  const api = safeSource(originOf(input.api));
  const storage = storageSources(input.storage);
  const unique = (xs: (string | null | false)[]) => [...new Set(xs.filter((x): x is string => !!x))].join(" ");
  const directives: [string, string][] = [
    ["default-src", "'self'"],
    ["script-src", unique(["'self'", `'nonce-${input.nonce}'`, "'strict-dynamic'", input.dev && "'unsafe-eval'"])],
    ["style-src", "'self' 'unsafe-inline'"],
    ["img-src", unique(["'self'", "data:", "blob:", "https:", ...(storage ?? ["http:"])])],
    ["font-src", "'self' data:"],
    [
      "connect-src",
      unique(["'self'", ws, api, input.dev && "ws:", input.dev && "wss:"]),
    ],
    ["frame-src", "blob:"],
    ["object-src", "'none'"],
    ["base-uri", "'self'"],
    ["form-action", "'self'"],
    ["frame-ancestors", "'none'"],
  ];
  return directives.map(([k, v]) => `${k} ${v}`).join("; ");
}

/** The page's address as the browser sees it, from the request (a reverse proxy's forwarded
 * protocol and host win). */
export function requestLocation(url: string, headers: { get(name: string): string | null }): PageLocation {
  const u = new URL(url);
  const first = (v: string | null) => v?.split(",")[0]?.trim() || null;
  const proto = first(headers.get("x-forwarded-proto"));
  const host = first(headers.get("x-forwarded-host")) ?? first(headers.get("host")) ?? u.host;
  const protocol = proto === "https" || proto === "http" ? `${proto}:` : u.protocol;
  let parsed: URL;
  try {
    parsed = new URL(`${protocol}//${host}`);
  } catch {
    parsed = u;
  }
  return { protocol, hostname: parsed.hostname, port: parsed.port, host: parsed.host };
}

/** The WebSocket URL the page will open (the rule of src/lib/wsUrl.ts, applied on the server). */
export function wsFor(loc: PageLocation, configured: string | undefined): string | null {
  try {
    return wsUrl(loc, configured);
  } catch {
    return null;
  }
}

/** The storage's public endpoint from the web server's environment (the backend's names). */
export function storageEndpoint(env: Record<string, string | undefined>): string | null {
  return originOf(env.S3_PUBLIC_ENDPOINT) ?? originOf(env.S3_ENDPOINT);
}

/** 128 random bits, base64. */
export function makeNonce(): string {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}
