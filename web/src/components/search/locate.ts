// Where an event (or a run's prompt) is among the conversation's rows, for opening a session at a
// search hit (`/sessions/{id}?seq=N`, `?run={id}`). Rows are keyed `e-{seq}` (their first event)
// and `p-{run}` (a prompt); a tool's result joins its call's row and a subagent's events sit in
// the children of the call that started it, so the answer is the top-level row that shows the
// event. An event without a row of its own (an answer to a card) points at the closest row
// before it.
import type { Event } from "@/generated/protocol";
import type { Item } from "@/lib/conversation";

export type JumpTarget = { seq: number } | { run: string };

/** `index`: the row; `pending`: the event is not loaded yet; `missing`: no row shows it. */
export type Located = { index: number; key: string } | "pending" | "missing";

/** Reads `?seq=N` (a positive integer) or `?run=…` from the page's address. */
export function jumpTarget(params: { get(name: string): string | null }): JumpTarget | null {
  const seq = params.get("seq");
  if (seq !== null && /^\d+$/.test(seq) && Number(seq) > 0) return { seq: Number(seq) };
  const run = params.get("run");
  if (run) return { run };
  return null;
}

/** `contiguous`: every event up to it is held (`EventLog.contiguous`), so a `seq` at or below it
 * that is not there never will be. */
export function locate(items: readonly Item[], events: readonly Event[], contiguous: number, target: JumpTarget): Located {
  // Every key (nested ones too) and tool call id, to the top-level row that holds it.
  const rowOfKey = new Map<string, number>();
  const rowOfTool = new Map<string, number>();
  const visit = (item: Item, top: number) => {
    rowOfKey.set(item.key, top);
    if (item.kind === "tool") {
      rowOfTool.set(item.toolUseId, top);
      for (const c of item.children ?? []) visit(c, top);
    }
  };
  items.forEach((item, i) => visit(item, i));
  const found = (index: number | undefined): Located => (index === undefined ? "missing" : { index, key: items[index]!.key });

  if ("run" in target) {
    const at = rowOfKey.get(`p-${target.run}`);
    return at === undefined ? "pending" : found(at);
  }
  const { seq } = target;
  const direct = rowOfKey.get(`e-${seq}`);
  if (direct !== undefined) return found(direct);
  const pos = lowerBound(events, seq);
  const event = events[pos];
  if (!event || event.seq !== seq) {
    // Not held: it may still be loading (the history is read oldest first).
    return seq > contiguous ? "pending" : "missing";
  }
  if (event.type === "tool_result") {
    const at = rowOfTool.get(event.payload.tool_use_id);
    if (at !== undefined) return found(at);
  }
  for (let i = pos - 1; i >= 0; i--) {
    const at = rowOfKey.get(`e-${events[i]!.seq}`);
    if (at !== undefined) return found(at);
    if (events[i]!.run_id !== event.run_id) break;
  }
  return found(rowOfKey.get(`p-${event.run_id}`));
}

/** The index of the first event with `seq >= seq`. */
function lowerBound(events: readonly Event[], seq: number): number {
  let lo = 0;
  let hi = events.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (events[mid]!.seq < seq) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
