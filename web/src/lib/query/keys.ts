// Every TanStack Query key of the UI, in one place. A key is an array from the general to the
// particular, so a prefix names a whole family: `queryKeys.sessions.lists()` is every session
// list (all filters), `queryKeys.sessions.all` every list and every detail.
import type { SessionStatus } from "@/generated/protocol";
import type { LibraryKind } from "../capabilities";

/** What a session list shows: one project's sessions or all (`null`), one status or all
 * (`null`), only the pinned ones (`true`), only the others (`false`) or both (`null`). */
export interface SessionFilter {
  projectId: string | null;
  status: SessionStatus | null;
  pinned: boolean | null;
}

/** A filter with every field set, so equal filters make equal keys. */
export function sessionFilter(f: Partial<SessionFilter> = {}): SessionFilter {
  return { projectId: f.projectId ?? null, status: f.status ?? null, pinned: f.pinned ?? null };
}

export const queryKeys = {
  sessions: {
    all: ["sessions"] as const,
    lists: () => ["sessions", "list"] as const,
    list: (f: Partial<SessionFilter> = {}) => ["sessions", "list", sessionFilter(f)] as const,
    details: () => ["sessions", "detail"] as const,
    detail: (id: string) => ["sessions", "detail", id] as const,
    inputRequests: (id: string) => ["sessions", "detail", id, "input-requests"] as const,
  },
  projects: {
    all: ["projects"] as const,
    list: () => ["projects", "list"] as const,
    detail: (id: string) => ["projects", "detail", id] as const,
  },
  capabilities: {
    all: ["capabilities"] as const,
    /** One library kind's items (skills use `kind("skills")`). */
    kind: (kind: LibraryKind | "skills") => ["capabilities", kind] as const,
    /** A skill's files at one version (a new version is a new key). */
    skill: (id: string, version: string) => ["capabilities", "skills", id, version] as const,
    instructions: () => ["capabilities", "instructions"] as const,
  },
  scheduled: {
    all: ["scheduled"] as const,
    list: () => ["scheduled", "list"] as const,
    runs: (id: string) => ["scheduled", "runs", id] as const,
  },
  secrets: {
    all: ["secrets"] as const,
    list: () => ["secrets", "list"] as const,
  },
  account: {
    tokens: () => ["account", "tokens"] as const,
  },
  admin: {
    users: () => ["admin", "users"] as const,
    invites: () => ["admin", "invites"] as const,
  },
} as const;

/** The filter of a session-list key (`undefined` for any other key). */
export function filterOfKey(key: readonly unknown[]): SessionFilter | undefined {
  if (key[0] !== "sessions" || key[1] !== "list") return undefined;
  const f = key[2];
  return f && typeof f === "object" ? sessionFilter(f as Partial<SessionFilter>) : undefined;
}
