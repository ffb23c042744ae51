// The composer's slash-command suggestions: whether the caret is in a `/name` at the start of the
// prompt, which of the user's commands match it, and the prompt once one is chosen.
import type { SlashCommandView } from "@/generated/protocol";

/** The most suggestions shown at once. */
export const MAX_SUGGESTIONS = 8;

/**
 * The partial command name being typed: the prompt is one word starting with `/` and the caret is
 * after the `/` (`"/rev|"` → `"rev"`, `"/|"` → `""`). Null otherwise: a `/` later in the text
 * never opens the list, and it closes once a space follows the name.
 */
export function slashQuery(prompt: string, caret: number): string | null {
  if (!prompt.startsWith("/")) return null;
  if (firstWordEnd(prompt) < prompt.length) return null;
  if (caret < 1) return null;
  return prompt.slice(1);
}

/** The index just past the prompt's first word (the end of the text when it has no whitespace). */
function firstWordEnd(prompt: string): number {
  const m = /\s/.exec(prompt);
  return m ? m.index : prompt.length;
}

/** The commands matching `query`: names starting with it first, then names or descriptions
 * containing it, each group by name; at most `MAX_SUGGESTIONS`. */
export function matchCommands(commands: readonly SlashCommandView[], query: string): SlashCommandView[] {
  const q = query.toLowerCase();
  const byName = (a: SlashCommandView, b: SlashCommandView) => a.name.localeCompare(b.name);
  const starts = commands.filter((c) => c.name.toLowerCase().startsWith(q)).sort(byName);
  const contains = commands
    .filter((c) => !c.name.toLowerCase().startsWith(q))
    .filter((c) => c.name.toLowerCase().includes(q) || c.description.toLowerCase().includes(q))
    .sort(byName);
  return [...starts, ...contains].slice(0, MAX_SUGGESTIONS);
}

/** The prompt with its first word replaced by `/name ` (what follows is kept). */
export function applyCommand(prompt: string, name: string): string {
  const rest = prompt.startsWith("/") ? prompt.slice(firstWordEnd(prompt)).replace(/^\s+/, "") : prompt;
  return `/${name} ${rest}`;
}

/**
 * The commands a task can run, for suggestions: a chosen preset's; else, for a follow-up, those
 * its session's latest run was queued with (names from its capabilities, when known); else every
 * enabled one (what a new task gets by default).
 */
export function availableCommands(
  commands: readonly SlashCommandView[],
  { presetCommandIds, sessionCommandNames }: { presetCommandIds: readonly string[] | null; sessionCommandNames: readonly string[] | null },
): SlashCommandView[] {
  if (presetCommandIds) {
    const ids = new Set(presetCommandIds);
    return commands.filter((c) => ids.has(c.id));
  }
  if (sessionCommandNames) {
    const names = new Set(sessionCommandNames);
    return commands.filter((c) => names.has(c.name));
  }
  return commands.filter((c) => c.enabled);
}
