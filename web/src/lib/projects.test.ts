import { describe, expect, it } from "vitest";
import type { ProjectDefaults, ProjectView } from "@/generated/protocol";
import { ApiError } from "./api";
import {
  CHOSEN_PROJECT_KEY,
  defaultsSummary,
  defaultsToForm,
  formToDefaults,
  inFilter,
  initialChosenProject,
  needsCascade,
  newTaskHref,
  projectFromSearch,
  projectNameProblem,
  reconcileChosen,
  sessionsPath,
  storeChosenProject,
  withProject,
} from "./projects";

const at = "2026-01-01T00:00:00Z";
const none: ProjectDefaults = { model: null, preset_id: null, permission_mode: null, git: null };
const project = (id: string, name: string): ProjectView => ({
  id,
  name,
  description: "",
  defaults: none,
  instructions: "",
  files: [],
  session_count: 0,
  created_at: at,
  updated_at: at,
});

/** A Storage as sessionStorage behaves: strings by key. */
function memoryStorage(): Storage & { map: Map<string, string> } {
  const map = new Map<string, string>();
  return {
    map,
    get length() {
      return map.size;
    },
    clear: () => map.clear(),
    getItem: (k) => map.get(k) ?? null,
    key: (i) => [...map.keys()][i] ?? null,
    removeItem: (k) => void map.delete(k),
    setItem: (k, v) => void map.set(k, String(v)),
  };
}

const throwing = {
  getItem: () => {
    throw new Error("SecurityError");
  },
  setItem: () => {
    throw new Error("SecurityError");
  },
  removeItem: () => {
    throw new Error("SecurityError");
  },
};

describe("the chosen project", () => {
  it("reads the address: an id, all sessions, or nothing said", () => {
    expect(projectFromSearch("?project=p1")).toBe("p1");
    expect(projectFromSearch("?x=1&project=p%201")).toBe("p 1");
    expect(projectFromSearch("?project=")).toBeNull();
    expect(projectFromSearch("?project=all")).toBeNull();
    expect(projectFromSearch("")).toBeUndefined();
    expect(projectFromSearch("?projects=p1")).toBeUndefined();
  });

  it("is the address's when it names one, else the tab's own", () => {
    const tab = memoryStorage();
    expect(initialChosenProject("", tab)).toBeNull();
    storeChosenProject(tab, "p1");
    expect(tab.map.get(CHOSEN_PROJECT_KEY)).toBe("p1");
    expect(initialChosenProject("", tab)).toBe("p1");
    expect(initialChosenProject("?project=p2", tab)).toBe("p2");
    expect(initialChosenProject("?project=all", tab)).toBeNull();
    storeChosenProject(tab, null);
    expect(tab.map.has(CHOSEN_PROJECT_KEY)).toBe(false);
    expect(initialChosenProject("", tab)).toBeNull();
  });

  it("works without storage (disabled, or a server render)", () => {
    expect(initialChosenProject("", null)).toBeNull();
    expect(initialChosenProject("", throwing)).toBeNull();
    expect(initialChosenProject("?project=p1", throwing)).toBe("p1");
    expect(() => storeChosenProject(throwing, "p1")).not.toThrow();
    expect(() => storeChosenProject(null, "p1")).not.toThrow();
  });

  it("falls back to all sessions for a project the user does not have", () => {
    const list = [project("p1", "One")];
    expect(reconcileChosen("p1", list)).toBe("p1");
    expect(reconcileChosen("gone", list)).toBeNull();
    expect(reconcileChosen(null, list)).toBeNull();
    // Not known yet: kept until the list arrives.
    expect(reconcileChosen("p1", null)).toBe("p1");
  });

  it("links a new task to its project", () => {
    expect(newTaskHref(null)).toBe("/");
    expect(newTaskHref("p 1")).toBe("/?project=p%201");
    expect(projectFromSearch(new URL(newTaskHref("p 1"), "http://x").search)).toBe("p 1");
  });
});

describe("the filtered session list", () => {
  it("asks for one project's sessions, or all", () => {
    expect(sessionsPath(null)).toBe("/sessions?limit=50");
    expect(sessionsPath("p1")).toBe("/sessions?limit=50&project_id=p1");
    expect(sessionsPath("p1", "c/x=")).toBe("/sessions?limit=50&project_id=p1&cursor=c%2Fx%3D");
    expect(sessionsPath(null, null, 10)).toBe("/sessions?limit=10");
  });

  it("shows a session announced live only in its project's list and in all sessions", () => {
    expect(inFilter({ project_id: "p1" }, null)).toBe(true);
    expect(inFilter({ project_id: null }, null)).toBe(true);
    expect(inFilter({ project_id: "p1" }, "p1")).toBe(true);
    expect(inFilter({ project_id: "p2" }, "p1")).toBe(false);
    expect(inFilter({ project_id: null }, "p1")).toBe(false);
  });
});

describe("projects", () => {
  it("need a name of at most 100 characters", () => {
    expect(projectNameProblem("  ")).toMatch(/name/);
    expect(projectNameProblem("Website")).toBeNull();
    expect(projectNameProblem("x".repeat(100))).toBeNull();
    expect(projectNameProblem("x".repeat(101))).toMatch(/100/);
  });

  it("are listed by name; a saved one replaces its old self", () => {
    const list = withProject([project("b", "Beta"), project("a", "Alpha")], project("c", "Gamma"));
    expect(list.map((p) => p.name)).toEqual(["Alpha", "Beta", "Gamma"]);
    expect(withProject(list, project("a", "Zeta")).map((p) => p.name)).toEqual(["Beta", "Gamma", "Zeta"]);
  });

  it("offer cascading only when the refusal is that the project has sessions", () => {
    expect(needsCascade(new ApiError(409, "project_not_empty", "it has 2 sessions"))).toBe(true);
    expect(needsCascade(new ApiError(409, "name_taken", "taken"))).toBe(false);
    expect(needsCascade(new ApiError(404, "not_found", "no such project"))).toBe(false);
    expect(needsCascade(new Error("project_not_empty"))).toBe(false);
  });
});

describe("the defaults form", () => {
  it("round-trips the defaults", () => {
    const d: ProjectDefaults = {
      model: "claude-sonnet-4-5",
      preset_id: "11111111-1111-1111-1111-111111111111",
      permission_mode: "plan",
      git: { url: "https://example.com/r.git", branch: "main", token_secret: "GITHUB_TOKEN" },
    };
    expect(formToDefaults(defaultsToForm(d))).toEqual(d);
    expect(formToDefaults(defaultsToForm(none))).toEqual(none);
  });

  it("saves blanks as not set, and no branch or token without a repository", () => {
    const f = { model: "  ", presetId: "", mode: "" as const, gitUrl: " ", gitBranch: "dev", tokenSecret: "TOKEN" };
    expect(formToDefaults(f)).toEqual(none);
    expect(formToDefaults({ ...f, gitUrl: " https://example.com/r.git ", gitBranch: " " })).toEqual({
      ...none,
      git: { url: "https://example.com/r.git", branch: null, token_secret: "TOKEN" },
    });
  });

  it("sums the defaults up in a line", () => {
    const words = { mode: (m: string) => `mode ${m}`, preset: (id: string) => `preset ${id}` };
    expect(defaultsSummary(none, words)).toBe("");
    expect(
      defaultsSummary(
        { model: "m", preset_id: "p", permission_mode: "plan", git: { url: "https://x/r.git", branch: "main", token_secret: "T" } },
        words,
      ),
    ).toBe("Model: m · Preset: preset p · Mode: mode plan · Repository: https://x/r.git (main) with T");
  });
});
