"use client";
// The scheduled tasks as one cached list (`GET /scheduled-tasks`), shared by the list and a
// task's page (the API has no single-task read), and a task's fires.
import { useQuery } from "@tanstack/react-query";
import type { ScheduledRunList, ScheduledTaskList } from "@/generated/protocol";
import { api } from "../api";
import { STALE } from "./client";
import { queryKeys } from "./keys";
import { useCachedList } from "./useCachedList";

export function useScheduledTasks() {
  const { items, setItems, missing, error } = useCachedList(queryKeys.scheduled.list(), async () => (await api<ScheduledTaskList>("/scheduled-tasks")).scheduled_tasks);
  return { tasks: items, setTasks: setItems, missing, error };
}

/** A scheduled task's fires (an empty list when they cannot be read). */
export function useScheduledRuns(id: string) {
  return useQuery({
    queryKey: queryKeys.scheduled.runs(id),
    queryFn: async () => {
      try {
        return (await api<ScheduledRunList>(`/scheduled-tasks/${id}/runs`)).runs;
      } catch {
        return [];
      }
    },
    staleTime: STALE.config,
  });
}
