// Loaded before the Next.js server (`node --require ./server/client-ip.cjs …`: scripts/dev.sh,
// web/tests/e2e/stack.sh, docker/web.Dockerfile). It records, on every request this process
// serves, the address of the connection the request came on, in `x-workcell-client-ip`, after
// removing any value the client sent under that name. The /api/v1 proxy forwards exactly that
// as `X-Forwarded-For`, which the backend believes from its TRUSTED_PROXIES.
//
// Why here: a route handler sees a Fetch `Request`, not the socket, and Next.js fills in
// `x-forwarded-for` from the socket only when the client did not send one (`??=` in
// next/dist/server/base-server.js), so the header a route handler sees may be forged.
// `http.server.request.start` is published by Node's HTTP server for each request, with its
// socket, before the server's request listener (Next.js) runs.
"use strict";

const diagnostics = require("node:diagnostics_channel");

const HEADER = "x-workcell-client-ip";

/** `::ffff:192.0.2.1` (an IPv4 client of a dual-stack socket) is 192.0.2.1. */
function plainAddress(address) {
  return typeof address === "string" && address.startsWith("::ffff:") && address.includes(".")
    ? address.slice("::ffff:".length)
    : address;
}

function stamp({ request, socket }) {
  // `headers` is what Next.js builds its Request from; `rawHeaders` is cleaned too so that
  // nothing reading the raw list finds the client's value.
  delete request.headers[HEADER];
  const raw = request.rawHeaders;
  for (let i = raw.length - 2; i >= 0; i -= 2) {
    if (String(raw[i]).toLowerCase() === HEADER) raw.splice(i, 2);
  }
  const address = plainAddress(socket && socket.remoteAddress);
  if (address) {
    request.headers[HEADER] = address;
    raw.push(HEADER, address);
  }
}

diagnostics.subscribe("http.server.request.start", stamp);
// Tells the proxy (same process) that the header is this module's, not a client's.
globalThis[Symbol.for("workcell.clientIpHeader")] = HEADER;

module.exports = { HEADER, stamp };
