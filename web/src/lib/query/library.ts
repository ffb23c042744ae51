// The library's lists as query options, so every screen that reads a kind (its Capabilities tab,
// the preset form's choices, the composer, a project's defaults) shares one cached copy.
import { queryOptions } from "@tanstack/react-query";
import { listItems, listSkills, type LibraryKind } from "../capabilities";
import { STALE } from "./client";
import { queryKeys } from "./keys";

export function libraryQuery<K extends LibraryKind>(kind: K) {
  return queryOptions({ queryKey: queryKeys.capabilities.kind(kind), queryFn: () => listItems(kind), staleTime: STALE.config });
}

export function skillsQuery() {
  return queryOptions({ queryKey: queryKeys.capabilities.kind("skills"), queryFn: listSkills, staleTime: STALE.config });
}
