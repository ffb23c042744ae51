"use client";
// One library kind's items as a screen holds them: loaded once, then kept current by what the
// screen saves, toggles and deletes (the server's answer replaces the item). A server without the
// kind's routes (`route_not_found`) sets `missing` instead of an error.
import { useCallback, useEffect, useState } from "react";
import { ApiError, readableError } from "./api";
import { createItem, deleteItem, listItems, updateItem, type LibraryKind, type RequestOf, type ViewOf } from "./capabilities";

export function useLibrary<K extends LibraryKind>(kind: K) {
  const [items, setItems] = useState<ViewOf<K>[] | null>(null);
  const [missing, setMissing] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const reload = useCallback(async () => {
    try {
      setItems(await listItems(kind));
      setError(null);
    } catch (e) {
      if (e instanceof ApiError && e.routeMissing) setMissing(true);
      else setError(readableError(e));
    }
  }, [kind]);

  useEffect(() => {
    void reload();
  }, [reload]);

  const replace = (item: ViewOf<K>) => setItems((l) => (l ?? []).map((x) => (x.id === item.id ? item : x)));

  /** Creates (no `id`) or updates; throws the API's error for the form to show. */
  const save = async (id: string | null, request: RequestOf<K>): Promise<ViewOf<K>> => {
    const saved = id ? await updateItem(kind, id, request) : await createItem(kind, request);
    if (id) replace(saved);
    else setItems((l) => [...(l ?? []), saved]);
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
      setItems((l) => (l ?? []).filter((x) => x.id !== item.id));
    } catch (e) {
      setError(readableError(e));
    }
  };

  return { items, missing, error, setError, reload, save, setEnabled, remove };
}
