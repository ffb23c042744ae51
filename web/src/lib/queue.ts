// The session's queued follow-ups (runs waiting behind the active one): read, edit, delete, send
// now. A follow-up that started meanwhile answers 409 `not_queued`: the strip just re-reads.
import type { QueuedRunView, SessionQueue, UpdateQueuedRunRequest } from "@/generated/protocol";
import { api, ApiError } from "./api";

/** The queue in run order; `null` when this server has no queue route (the strip hides). */
export async function loadQueue(sessionId: string): Promise<QueuedRunView[] | null> {
  try {
    const q = await api<SessionQueue>(`/sessions/${sessionId}/queue`);
    return [...q.runs].sort((a, b) => a.position - b.position);
  } catch (e) {
    if (e instanceof ApiError && e.routeMissing) return null;
    throw e;
  }
}

const path = (sessionId: string, runId: string) => `/sessions/${sessionId}/queue/${runId}`;

export function editQueued(sessionId: string, runId: string, prompt: string): Promise<unknown> {
  const body: UpdateQueuedRunRequest = { prompt };
  return api(path(sessionId, runId), { method: "PATCH", json: body });
}

export function deleteQueued(sessionId: string, runId: string): Promise<unknown> {
  return api(path(sessionId, runId), { method: "DELETE" });
}

export function sendQueuedNow(sessionId: string, runId: string): Promise<unknown> {
  return api(`${path(sessionId, runId)}/send-now`, { method: "POST" });
}

/** The follow-up is no longer queued (it started, or is gone): nothing to tell, just re-read. */
export function isNotQueued(e: unknown): boolean {
  return e instanceof ApiError && e.status === 409 && e.code === "not_queued";
}
