// Where a search hit opens: the session at the hit's event (`?seq=`), at a prompt's run
// (`?run=`), or at its end (a title).
import type { SearchHit } from "@/generated/protocol";

export function hitHref(hit: Pick<SearchHit, "session_id" | "run_id" | "seq">): string {
  const base = `/sessions/${encodeURIComponent(hit.session_id)}`;
  if (hit.seq !== null && hit.seq !== undefined) return `${base}?seq=${String(hit.seq)}`;
  if (hit.run_id) return `${base}?run=${encodeURIComponent(hit.run_id)}`;
  return base;
}

/** The query string of one page of hits. */
export function searchPath(q: string, projectId: string | null, limit: number, cursor: string | null): string {
  const p = new URLSearchParams({ q, limit: String(limit) });
  if (projectId) p.set("project_id", projectId);
  if (cursor) p.set("cursor", cursor);
  return `/search?${p.toString()}`;
}
