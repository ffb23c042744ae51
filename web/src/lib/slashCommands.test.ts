import { describe, expect, it } from "vitest";
import type { SlashCommandView } from "@/generated/protocol";
import { applyCommand, availableCommands, matchCommands, MAX_SUGGESTIONS, slashQuery } from "./slashCommands";

function command(name: string, description = ""): SlashCommandView {
  return {
    id: name, name, description, argument_hint: null, allowed_tools: [], model: null, body: "", enabled: true, system: false,
    created_at: "2026-01-01T00:00:00Z", updated_at: "2026-01-01T00:00:00Z",
  };
}

describe("the slash query", () => {
  it("is the first word after a leading slash while nothing follows it", () => {
    expect(slashQuery("/", 1)).toBe("");
    expect(slashQuery("/rev", 4)).toBe("rev");
    expect(slashQuery("/rev", 2)).toBe("rev");
  });

  it("is absent elsewhere: no leading slash, a space typed, or the caret before the slash", () => {
    expect(slashQuery("review /x", 9)).toBeNull();
    expect(slashQuery("/review ", 8)).toBeNull();
    expect(slashQuery("/review args", 3)).toBeNull();
    expect(slashQuery("/rev", 0)).toBeNull();
    expect(slashQuery("", 0)).toBeNull();
    expect(slashQuery(" /rev", 5)).toBeNull();
  });
});

describe("matching commands", () => {
  const commands = [command("test-all"), command("review", "Review the diff"), command("deploy", "ship after review"), command("retest")];

  it("lists name prefixes first, then names or descriptions containing the query, each by name", () => {
    expect(matchCommands(commands, "re").map((c) => c.name)).toEqual(["retest", "review", "deploy"]);
    expect(matchCommands(commands, "review").map((c) => c.name)).toEqual(["review", "deploy"]);
    expect(matchCommands(commands, "TEST").map((c) => c.name)).toEqual(["test-all", "retest"]);
    expect(matchCommands(commands, "").map((c) => c.name)).toEqual(["deploy", "retest", "review", "test-all"]);
    expect(matchCommands(commands, "zzz")).toEqual([]);
  });

  it("shows at most a screenful", () => {
    const many = Array.from({ length: 20 }, (_, i) => command(`cmd${String(i).padStart(2, "0")}`));
    expect(matchCommands(many, "cmd")).toHaveLength(MAX_SUGGESTIONS);
  });
});

describe("choosing a command", () => {
  it("replaces the first word with /name and a space, keeping what follows", () => {
    expect(applyCommand("/re", "review")).toBe("/review ");
    expect(applyCommand("/", "review")).toBe("/review ");
    expect(applyCommand("/re  the diff", "review")).toBe("/review the diff");
    expect(applyCommand("text", "review")).toBe("/review text");
  });
});

describe("which commands are suggested", () => {
  const on = command("on");
  const off = { ...command("off"), enabled: false };
  const other = command("other");
  const all = [on, off, other];

  it("a preset's commands, even disabled ones, when a preset is chosen", () => {
    expect(availableCommands(all, { presetCommandIds: ["off"], sessionCommandNames: ["on"] })).toEqual([off]);
    expect(availableCommands(all, { presetCommandIds: [], sessionCommandNames: null })).toEqual([]);
  });

  it("a follow-up's session commands, else every enabled one", () => {
    expect(availableCommands(all, { presetCommandIds: null, sessionCommandNames: ["other"] })).toEqual([other]);
    expect(availableCommands(all, { presetCommandIds: null, sessionCommandNames: null })).toEqual([on, other]);
  });
});
