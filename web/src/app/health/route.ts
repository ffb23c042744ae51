// Liveness of the web UI itself, for container health checks and compose start order. It does
// not call the backend: the backend has its own health check.
export const dynamic = "force-dynamic";

export function GET(): Response {
  return Response.json({ status: "healthy", service: "web" });
}
