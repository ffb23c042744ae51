"use client";
// One library kind's items as a screen holds them: read through the query cache (shared with the
// preset form's choices), then kept current by what the screen saves, toggles and deletes (the
// server's answer replaces the item). A server without the kind's routes (`route_not_found`) sets
// `missing` instead of an error.
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { ApiError } from "./api";
import { createItem, deleteItem, updateItem, type LibraryKind, type RequestOf, type ViewOf } from "./capabilities";
import { libraryQuery } from "./query/library";
import { useReadableError } from "./useReadableError";

export function useLibrary<K extends LibraryKind>(kind: K) {
  const qc = useQueryClient();
  const options = libraryQuery(kind);
  const key = options.queryKey;
  const query = useQuery(options);
  const [actionError, setError] = useState<string | null>(null);
  const readableError = useReadableError();
  const missing = query.error instanceof ApiError && query.error.routeMissing;
  const error = actionError ?? (query.error && !missing ? readableError(query.error) : null);

  const setItems = (update: (items: ViewOf<K>[]) => ViewOf<K>[]) => qc.setQueryData<ViewOf<K>[]>(key, (l) => update(l ?? []));
  const replace = (item: ViewOf<K>) => setItems((l) => l.map((x) => (x.id === item.id ? item : x)));

  const reload = async () => {
    setError(null);
    await query.refetch();
  };

  /** Creates (no `id`) or updates; throws the API's error for the form to show. */
  const save = async (id: string | null, request: RequestOf<K>): Promise<ViewOf<K>> => {
    const saved = id ? await updateItem(kind, id, request) : await createItem(kind, request);
    if (id) replace(saved);
    else setItems((l) => [...l, saved]);
    return saved;
  };

  /** Flips `enabled` at once; the server's answer replaces it and a refusal puts it back. */
  const setEnabled = async (item: ViewOf<K> & { enabled: boolean }, enabled: boolean) => {
    replace({ ...item, enabled });
    try {
      replace(await updateItem(kind, item.id, { enabled }));
    } catch (e) {
      replace(item);
      setError(readableError(e));
    }
  };

  const remove = async (item: ViewOf<K>) => {
    try {
      await deleteItem(kind, item.id);
      setItems((l) => l.filter((x) => x.id !== item.id));
    } catch (e) {
      setError(readableError(e));
    }
  };

  return { items: query.data ?? null, missing, error, setError, reload, save, setEnabled, remove };
}
