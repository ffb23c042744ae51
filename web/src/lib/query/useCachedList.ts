"use client";
// A list a screen reads once and then changes itself (what a save, toggle or delete answered):
// the query cache holds it, so another screen reading the same key shares it, and a screen
// opened again shows it at once while it is read again. A server without the route
// (`route_not_found`) makes it `missing` instead of an error.
import { useQuery, useQueryClient, type QueryKey } from "@tanstack/react-query";
import { useCallback } from "react";
import { ApiError } from "../api";
import { STALE } from "./client";

export function useCachedList<T>(queryKey: QueryKey, read: () => Promise<T[]>, { enabled = true, staleTime = STALE.config }: { enabled?: boolean; staleTime?: number } = {}) {
  const qc = useQueryClient();
  const query = useQuery({ queryKey, queryFn: read, enabled, staleTime });
  const missing = query.error instanceof ApiError && query.error.routeMissing;
  // The key is an array made afresh on each render: its hash is what names it.
  const hash = JSON.stringify(queryKey);
  /** Changes the cached list (`null` while nothing is loaded). */
  const setItems = useCallback(
    (update: (list: T[] | null) => T[] | null) => qc.setQueryData<T[]>(JSON.parse(hash) as QueryKey, (l) => update(l ?? null) ?? undefined),
    [qc, hash],
  );
  const { refetch } = query;
  const reload = useCallback(async () => {
    await refetch();
  }, [refetch]);
  return { items: query.data ?? null, setItems, missing, error: missing ? null : query.error, reload, query };
}
