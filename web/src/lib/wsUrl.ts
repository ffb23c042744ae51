// Where the live-updates WebSocket is. `NEXT_PUBLIC_WS_URL` (inlined at build time) wins;
// otherwise the page's own origin, except that a page served from port 3000 (the dev server)
// talks to the backend on port 8000 of the same host. The Next.js proxy cannot upgrade
// connections, so production puts a reverse proxy in front of both (see web/README.md).

export interface PageLocation {
  protocol: string;
  hostname: string;
  port: string;
  host: string;
}

export function wsUrl(loc: PageLocation, configured: string | undefined): string {
  const path = "/api/v1/ws";
  if (configured && configured.trim() !== "") {
    const base = configured.trim().replace(/\/+$/, "");
    return base.endsWith(path) ? base : `${base}${path}`;
  }
  const scheme = loc.protocol === "https:" ? "wss:" : "ws:";
  if (loc.port === "3000") {
    // `hostname` keeps the brackets of an IPv6 literal.
    return `${scheme}//${loc.hostname}:8000${path}`;
  }
  return `${scheme}//${loc.host}${path}`;
}
