// The session's event log as the browser holds it. Events arrive from two sources that overlap
// (the REST history and the WebSocket, which replays everything after the cursor it was given),
// possibly out of order after a reconnect. The log keeps each `seq` once, in order, and knows the
// highest sequence number up to which it has every event: that is where a resume starts.
import type { Event } from "@/generated/protocol";

export interface EventLog {
  /** Events by ascending `seq`, each once. */
  events: Event[];
  /** Every event with `seq <= contiguous` is present (sequence numbers start at 1, gap-free). */
  contiguous: number;
  /** Bumped on every change, so views can memoize on it. */
  version: number;
}

export const emptyLog: EventLog = { events: [], contiguous: 0, version: 0 };

export type LogAction = { type: "add"; events: Event[] } | { type: "reset" };

/** Adds events: duplicates are dropped, late arrivals are put in their place. */
export function reduceLog(log: EventLog, action: LogAction): EventLog {
  if (action.type === "reset") return { ...emptyLog, version: log.version + 1 };
  const incoming = action.events;
  if (incoming.length === 0) return log;
  const last = log.events.length ? log.events[log.events.length - 1]!.seq : 0;
  let events = log.events;
  // Fast path: a batch strictly after everything held, in order (the usual live case).
  let appendable = true;
  let prev = last;
  for (const e of incoming) {
    if (e.seq <= prev) {
      appendable = false;
      break;
    }
    prev = e.seq;
  }
  if (appendable) {
    events = log.events.concat(incoming);
  } else {
    const bySeq = new Map<number, Event>();
    for (const e of log.events) bySeq.set(e.seq, e);
    let changed = false;
    for (const e of incoming) {
      if (!bySeq.has(e.seq)) {
        bySeq.set(e.seq, e);
        changed = true;
      }
    }
    if (!changed) return log;
    events = [...bySeq.values()].sort((a, b) => a.seq - b.seq);
  }
  let contiguous = log.contiguous;
  // Walk forward from the old contiguous point (events are sorted, so a binary search finds it).
  let i = indexAfter(events, contiguous);
  while (i < events.length && events[i]!.seq === contiguous + 1) {
    contiguous += 1;
    i += 1;
  }
  return { events, contiguous, version: log.version + 1 };
}

/** The index of the first event with `seq > seq`. */
function indexAfter(events: Event[], seq: number): number {
  let lo = 0;
  let hi = events.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (events[mid]!.seq <= seq) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Where to resume a subscription: after the last event rendered without a gap before it. */
export function resumeAfter(log: EventLog): number {
  return log.contiguous;
}
