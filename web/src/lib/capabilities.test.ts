import { describe, expect, it } from "vitest";
import type { CapabilitySummary } from "@/generated/protocol";
import { choiceFor, formatBytes, formatList, nameProblem, parseList, parseMcpConfig, shortVersion, splitLoaded, summaryIsEmpty } from "./capabilities";

describe("item names", () => {
  it("accepts what the backend's valid_name accepts and explains the rest", () => {
    for (const ok of ["a", "my-skill", "x_1.2", "A9", "a".repeat(64)]) expect(nameProblem(ok), ok).toBeNull();
    for (const bad of ["", ".", "..", "-x", "a/b", "a..b", "a b", "ü", "a".repeat(65)]) expect(nameProblem(bad), bad).toMatch(/name/);
  });
});

describe("comma lists", () => {
  it("splits, trims and drops blanks; formats back", () => {
    expect(parseList(" Read, Bash(git:*) ,, Grep ")).toEqual(["Read", "Bash(git:*)", "Grep"]);
    expect(parseList("  ")).toEqual([]);
    expect(formatList(["Read", "Grep"])).toBe("Read, Grep");
  });
});

describe("pasted MCP configuration", () => {
  it("takes one server's config as it is", () => {
    const r = parseMcpConfig('{"command": "python3", "args": ["server.py"], "env": {"K": "${TOKEN}"}}');
    expect(r).toEqual({ ok: true, name: null, config: { command: "python3", args: ["server.py"], env: { K: "${TOKEN}" } } });
  });

  it("unwraps an mcpServers file with one server and offers its name", () => {
    const r = parseMcpConfig('{"mcpServers": {"docs": {"type": "http", "url": "https://example.com/mcp"}}}');
    expect(r).toEqual({ ok: true, name: "docs", config: { type: "http", url: "https://example.com/mcp" } });
  });

  it("refuses what is not JSON, not an object, or several servers at once", () => {
    const errors = ["", "{command: x}", "[1]", '"text"', '{"mcpServers": {"a": {}, "b": {}}}', '{"mcpServers": []}', '{"mcpServers": {"a": 1}}'].map(
      (t) => parseMcpConfig(t),
    );
    for (const e of errors) expect(e.ok).toBe(false);
    const bad = parseMcpConfig("{command: x}");
    expect(!bad.ok && bad.error).toMatch(/^This is not valid JSON/);
    const many = parseMcpConfig('{"mcpServers": {"a": {}, "b": {}}}');
    expect(!many.ok && many.error).toBe("Paste one server at a time (this file has 2).");
  });
});

describe("display helpers", () => {
  it("shortens versions and formats sizes", () => {
    expect(shortVersion("0123456789abcdef0123")).toBe("0123456789ab");
    expect([formatBytes(512), formatBytes(2048), formatBytes(3 * 1024 * 1024)]).toEqual(["512 B", "2.0 KiB", "3.0 MiB"]);
  });

  it("builds the composer's choice from a preset or nothing", () => {
    expect(choiceFor(null)).toEqual({ preset_id: null, skill_ids: null, mcp_server_ids: null, slash_command_ids: null, subagent_ids: null });
    expect(choiceFor("p1").preset_id).toBe("p1");
  });

  it("tells an empty summary from one that names anything", () => {
    const empty: CapabilitySummary = {
      preset: null, skills: [], mcp_servers: [], slash_commands: [], subagents: [], instructions: false, model: null, permission_mode: null,
    };
    expect(summaryIsEmpty(empty)).toBe(true);
    expect(summaryIsEmpty({ ...empty, instructions: true })).toBe(false);
    expect(summaryIsEmpty({ ...empty, slash_commands: [{ id: "c", name: "review" }] })).toBe(false);
  });
});

describe("what a run loaded", () => {
  it("puts the run's own items first (marked whether reported) and keeps the built-ins in the agent's order", () => {
    const loaded = ["compact", "review", "context", "init"];
    const own = [
      { id: "2", name: "review" },
      { id: "1", name: "missing-one" },
    ];
    expect(splitLoaded(loaded, own)).toEqual({
      own: [
        { name: "review", loaded: true },
        { name: "missing-one", loaded: false },
      ],
      others: ["compact", "context", "init"],
    });
    expect(splitLoaded([], [])).toEqual({ own: [], others: [] });
  });
});
