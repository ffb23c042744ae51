// The agent capabilities library over the public API (skills, MCP servers, slash commands,
// subagents, instructions, presets, and what a task would get), and the small pure rules the
// Capabilities screen, the composer and the conversation share: plain names, comma lists, the
// MCP JSON a user pastes, and which of a run's loaded items are its own.
import type {
  CapabilityChoice,
  CapabilityRef,
  CapabilitySummary,
  EnabledUpdate,
  InstructionsView,
  JsonValue,
  McpServerList,
  McpServerRequest,
  McpServerView,
  PresetList,
  PresetRequest,
  PresetView,
  SkillDetail,
  SkillList,
  SkillView,
  SlashCommandList,
  SlashCommandRequest,
  SlashCommandView,
  SubagentList,
  SubagentRequest,
  SubagentView,
} from "@/generated/protocol";
import { english, type Format, type Translate } from "@/i18n/translate";
import enCapabilities from "../../messages/en/capabilities.json";
import { api, API_CREDENTIALS, apiUrl, errorFrom, LocalError } from "./api";

// The rules that return words take `t` (`useTranslations()`, keys under `capabilities.rules`) and
// answer in English without it.
const ENGLISH = english({ capabilities: enCapabilities });

// ---------------------------------------------------------------------------------------------
// The JSON-edited kinds: one set of calls for all four
// ---------------------------------------------------------------------------------------------

/** Each JSON-edited kind's route segment, with its view, request and list types. */
export interface LibraryKinds {
  "mcp-servers": { view: McpServerView; request: McpServerRequest; list: McpServerList };
  "slash-commands": { view: SlashCommandView; request: SlashCommandRequest; list: SlashCommandList };
  subagents: { view: SubagentView; request: SubagentRequest; list: SubagentList };
  presets: { view: PresetView; request: PresetRequest; list: PresetList };
}
export type LibraryKind = keyof LibraryKinds;
export type ViewOf<K extends LibraryKind> = LibraryKinds[K]["view"];
export type RequestOf<K extends LibraryKind> = LibraryKinds[K]["request"];

/** The field of each list answer that holds the items. */
const LIST_FIELD: { [K in LibraryKind]: keyof LibraryKinds[K]["list"] } = {
  "mcp-servers": "mcp_servers",
  "slash-commands": "slash_commands",
  subagents: "subagents",
  presets: "presets",
};

export async function listItems<K extends LibraryKind>(kind: K): Promise<ViewOf<K>[]> {
  const list = await api<LibraryKinds[K]["list"]>(`/${kind}`);
  return list[LIST_FIELD[kind]] as ViewOf<K>[];
}

/** `POST /{kind}` (201). */
export function createItem<K extends LibraryKind>(kind: K, request: RequestOf<K>): Promise<ViewOf<K>> {
  return api<ViewOf<K>>(`/${kind}`, { method: "POST", json: request });
}

/** `PATCH /{kind}/{id}` with the fields to change (or only `enabled`, for the kinds that have it). */
export function updateItem<K extends LibraryKind>(kind: K, id: string, request: Partial<RequestOf<K>> | EnabledUpdate): Promise<ViewOf<K>> {
  return api<ViewOf<K>>(`/${kind}/${encodeURIComponent(id)}`, { method: "PATCH", json: request });
}

export function deleteItem(kind: LibraryKind | "skills", id: string): Promise<void> {
  return api<void>(`/${kind}/${encodeURIComponent(id)}`, { method: "DELETE" });
}

// ---------------------------------------------------------------------------------------------
// Skills (uploaded archives)
// ---------------------------------------------------------------------------------------------

export async function listSkills(): Promise<SkillView[]> {
  return (await api<SkillList>("/skills")).skills;
}

export function getSkill(id: string): Promise<SkillDetail> {
  return api<SkillDetail>(`/skills/${encodeURIComponent(id)}`);
}

export function setSkillEnabled(id: string, enabled: boolean): Promise<SkillView> {
  return api<SkillView>(`/skills/${encodeURIComponent(id)}`, { method: "PATCH", json: { enabled } });
}

/** Where the browser downloads a skill's files. */
export function skillDownloadUrl(id: string): string {
  return apiUrl(`/skills/${encodeURIComponent(id)}/download`);
}

/** The archive types `POST /skills` takes (for the file picker). */
export const SKILL_ARCHIVE_TYPES = ".zip,.tar.gz,.tgz,application/zip,application/gzip";

/**
 * Uploads a skill archive (`POST /skills`, or `PUT /skills/{replace}` for a new version of one),
 * reporting progress (0 to 1). `fetch` cannot report upload progress, so this is the one request
 * made with `XMLHttpRequest`; a refusal rejects with the same `ApiError` as `api` does.
 */
export function uploadSkill(
  file: File,
  { replace, onProgress }: { replace?: string; onProgress?: (fraction: number) => void } = {},
): Promise<SkillView> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(replace ? "PUT" : "POST", apiUrl(replace ? `/skills/${encodeURIComponent(replace)}` : "/skills"));
    xhr.withCredentials = API_CREDENTIALS === "include";
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable && e.total > 0) onProgress?.(e.loaded / e.total);
    };
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        try {
          resolve(JSON.parse(xhr.responseText) as SkillView);
        } catch {
          reject(new LocalError("unreadableAnswer", "The server's answer could not be read."));
        }
      } else {
        void errorFrom(new Response(xhr.responseText, { status: xhr.status })).then(reject);
      }
    };
    // A connection closed mid-upload (as a server may do with an oversized body) reads as a
    // network failure, like a failed `fetch`.
    xhr.onerror = () => reject(new TypeError("network error"));
    const form = new FormData();
    form.append("file", file, file.name);
    xhr.send(form);
  });
}

// ---------------------------------------------------------------------------------------------
// Instructions and resolution
// ---------------------------------------------------------------------------------------------

export function getInstructions(): Promise<InstructionsView> {
  return api<InstructionsView>("/instructions");
}

export function putInstructions(text: string): Promise<InstructionsView> {
  return api<InstructionsView>("/instructions", { method: "PUT", json: { text } });
}

/** What a new task with this choice would get (`POST /capabilities/resolve`). */
export function resolveCapabilities(choice: CapabilityChoice): Promise<CapabilitySummary> {
  return api<CapabilitySummary>("/capabilities/resolve", { method: "POST", json: choice });
}

/** The composer's choice: a preset, or nothing (the defaults, or a follow-up's session snapshot). */
export function choiceFor(presetId: string | null): CapabilityChoice {
  return { preset_id: presetId, skill_ids: null, mcp_server_ids: null, slash_command_ids: null, subagent_ids: null };
}

// ---------------------------------------------------------------------------------------------
// Pure rules
// ---------------------------------------------------------------------------------------------

/** The longest item name (`protocol::capabilities::MAX_NAME_CHARS`). */
export const MAX_NAME_CHARS = 64;

/** Why `name` is not a plain item name (the backend's `valid_name`), or null when it is. Names
 * become file names in the agent's configuration directory. */
export function nameProblem(name: string, t: Translate = ENGLISH): string | null {
  if (!name) return t("capabilities.rules.nameRequired");
  if (name.length > MAX_NAME_CHARS) return t("capabilities.rules.nameLength", { max: MAX_NAME_CHARS });
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name) || name.includes("..")) return t("capabilities.rules.nameChars");
  return null;
}

/** A comma-separated list as typed (`"Read, Bash(git:*)"`), without blanks. */
export function parseList(text: string): string[] {
  return text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

export function formatList(items: readonly string[]): string {
  return items.join(", ");
}

export type McpPaste = { ok: true; config: { [key: string]: JsonValue | undefined }; name: string | null } | { ok: false; error: string };

/**
 * Reads the MCP server JSON a user pasted: one server's config (`{"command": …}`,
 * `{"type": "http", "url": …}`), or a whole `{"mcpServers": {"name": {…}}}` file with exactly one
 * server (its name is then offered). Only that it parses and is an object is checked here; the
 * backend validates the shape and its message is shown as is.
 */
export function parseMcpConfig(text: string, t: Translate = ENGLISH): McpPaste {
  if (!text.trim()) return { ok: false, error: t("capabilities.rules.mcpEmpty") };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    // The parser's own words (the browser's) follow.
    return { ok: false, error: t("capabilities.rules.mcpInvalid", { error: e instanceof Error ? e.message : String(e) }) };
  }
  if (!isObject(value)) return { ok: false, error: t("capabilities.rules.mcpNotObject") };
  const wrapped = value.mcpServers;
  if (wrapped !== undefined) {
    if (!isObject(wrapped)) return { ok: false, error: t("capabilities.rules.mcpServersNotObject") };
    const entries = Object.entries(wrapped);
    if (entries.length !== 1) {
      return { ok: false, error: t("capabilities.rules.mcpOneServer", { count: entries.length }) };
    }
    const [name, config] = entries[0]!;
    if (!isObject(config)) return { ok: false, error: t("capabilities.rules.mcpServerNotObject", { name }) };
    return { ok: true, config: config as McpObject, name };
  }
  return { ok: true, config: value as McpObject, name: null };
}

type McpObject = { [key: string]: JsonValue | undefined };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A skill's version (a hex SHA-256) as shown: its first 12 characters. */
export function shortVersion(version: string): string {
  return version.slice(0, 12);
}

/** A size in B, KiB or MiB; `format` (`useFormatter()`) writes the number the UI's language's way. */
export function formatBytes(n: number, format?: Format): string {
  const num = (v: number, digits: number) => (format ? format.number(v, { minimumFractionDigits: digits, maximumFractionDigits: digits }) : v.toFixed(digits));
  if (n < 1024) return `${num(n, 0)} B`;
  if (n < 1024 * 1024) return `${num(n / 1024, 1)} KiB`;
  return `${num(n / (1024 * 1024), 1)} MiB`;
}

/**
 * Splits what the agent reported loading (its init line's skills, commands or agents) into the
 * run's own items (from the run's capabilities, in their order, each marked whether the agent
 * reported it) and the rest (the CLI's built-ins), in the agent's order.
 */
export function splitLoaded(loaded: readonly string[], own: readonly CapabilityRef[]): {
  own: { name: string; loaded: boolean }[];
  others: string[];
} {
  const ownNames = new Set(own.map((o) => o.name));
  const reported = new Set(loaded);
  return {
    own: own.map((o) => ({ name: o.name, loaded: reported.has(o.name) })),
    others: loaded.filter((name) => !ownNames.has(name)),
  };
}

/** Whether a summary names anything at all (a preset, items or instructions). */
export function summaryIsEmpty(s: CapabilitySummary): boolean {
  return (
    !s.preset &&
    s.skills.length === 0 &&
    s.mcp_servers.length === 0 &&
    s.slash_commands.length === 0 &&
    s.subagents.length === 0 &&
    !s.instructions &&
    !s.model &&
    !s.permission_mode
  );
}
