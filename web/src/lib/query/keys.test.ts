import { describe, expect, it } from "vitest";
import { filterOfKey, queryKeys, sessionFilter } from "./keys";

describe("query keys", () => {
  it("fills every filter field, so equal filters make equal keys", () => {
    expect(queryKeys.sessions.list()).toEqual(["sessions", "list", { projectId: null, status: null, pinned: null }]);
    expect(queryKeys.sessions.list({ pinned: true })).toEqual(queryKeys.sessions.list({ pinned: true, projectId: null, status: null }));
    expect(sessionFilter({ projectId: "p", status: "running", pinned: false })).toEqual({ projectId: "p", status: "running", pinned: false });
  });

  it("nests every list and detail under their families", () => {
    const starts = (key: readonly unknown[], prefix: readonly unknown[]) => prefix.every((p, i) => key[i] === p);
    expect(starts(queryKeys.sessions.list({ projectId: "p" }), queryKeys.sessions.lists())).toBe(true);
    expect(starts(queryKeys.sessions.lists(), queryKeys.sessions.all)).toBe(true);
    expect(starts(queryKeys.sessions.detail("s"), queryKeys.sessions.details())).toBe(true);
    expect(starts(queryKeys.sessions.detail("s"), queryKeys.sessions.lists())).toBe(false);
    expect(starts(queryKeys.sessions.inputRequests("s"), queryKeys.sessions.detail("s"))).toBe(true);
    expect(starts(queryKeys.projects.detail("p"), queryKeys.projects.all)).toBe(true);
    expect(starts(queryKeys.capabilities.kind("presets"), queryKeys.capabilities.all)).toBe(true);
    expect(starts(queryKeys.capabilities.skill("k", "v1"), queryKeys.capabilities.kind("skills"))).toBe(true);
    expect(starts(queryKeys.scheduled.runs("t"), queryKeys.scheduled.all)).toBe(true);
  });

  it("reads a list key's filter back", () => {
    expect(filterOfKey(queryKeys.sessions.list({ status: "failed" }))).toEqual({ projectId: null, status: "failed", pinned: null });
    expect(filterOfKey(queryKeys.sessions.detail("s"))).toBeUndefined();
    expect(filterOfKey(queryKeys.projects.list())).toBeUndefined();
  });

  it("keeps every key family distinct", () => {
    const firsts = [queryKeys.sessions.all, queryKeys.projects.all, queryKeys.capabilities.all, queryKeys.scheduled.all, queryKeys.secrets.all, queryKeys.account.tokens(), queryKeys.admin.users()].map((k) => k[0]);
    expect(new Set(firsts).size).toBe(firsts.length);
  });
});
