// The query client's defaults: how often to retry, how long data counts as fresh.
import { QueryClient } from "@tanstack/react-query";
import { ApiError } from "../api";

/** How long each kind of data counts as fresh (a fresh query is not re-read on mount or focus). */
export const STALE = {
  /** A session's detail: the live connection keeps it current; re-read when a page opens it. */
  live: 5_000,
  /** Session lists: kept current by the server's announcements. */
  sessions: 60_000,
  /** The user's projects, library, secrets, schedules, tokens. */
  config: 30_000,
  /** The deployment's model catalog. */
  catalog: 10 * 60_000,
} as const;

/** Failures worth another try: the network and the server's own (5xx, 408, 429); never a
 * refusal (any other 4xx: not found, forbidden, invalid…), which a retry would only repeat. */
export function isRetryable(error: unknown): boolean {
  if (error instanceof ApiError) return error.status >= 500 || error.status === 408 || error.status === 429;
  return true;
}

export const MAX_RETRIES = 2;

export function shouldRetry(failureCount: number, error: unknown): boolean {
  return failureCount < MAX_RETRIES && isRetryable(error);
}

export function makeQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: {
        retry: shouldRetry,
        staleTime: STALE.config,
        refetchOnWindowFocus: true,
        refetchOnReconnect: true,
      },
      mutations: { retry: false },
    },
  });
}
