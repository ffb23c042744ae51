// Nesting a subagent's work under the call that started it. The agent runs a subagent through a
// tool call (`Task`); every event the subagent produces names that call's `tool_use_id` as its
// `parent_tool_use_id`. Such events leave the main flow and become the children of that call,
// in their order. An event whose parent is unknown (not seen before it) stays where it is.

/**
 * Moves every entry whose `parentOf` names an entry seen earlier (one whose `idOf` is that id)
 * into that entry's children, recursively (a subagent's own calls can have children), keeping the
 * order of the roots and of each entry's children. `attach` returns the entry with its children
 * (called only for entries that have some); the input is not modified.
 */
export function nest<T>(
  entries: readonly T[],
  idOf: (entry: T) => string | null | undefined,
  parentOf: (entry: T) => string | null | undefined,
  attach: (entry: T, children: T[]) => T,
): T[] {
  const roots: T[] = [];
  // Children by parent id, filled in order; only ids already seen can take children.
  const children = new Map<string, T[]>();
  for (const entry of entries) {
    const parent = parentOf(entry);
    const siblings = parent ? children.get(parent) : undefined;
    if (siblings) siblings.push(entry);
    else roots.push(entry);
    const id = idOf(entry);
    if (id && !children.has(id)) children.set(id, []);
  }
  const build = (entry: T): T => {
    const id = idOf(entry);
    const mine = id ? children.get(id) : undefined;
    if (!mine || mine.length === 0) return entry;
    // Claimed once: an id that appears twice gives its children to the first entry only.
    children.delete(id!);
    return attach(entry, mine.map(build));
  };
  return roots.map(build);
}
