import { describe, expect, it } from "vitest";
import type { Event } from "@/generated/protocol";
import { emptyLog, reduceLog, resumeAfter, type EventLog } from "./events";

const RUN = "00000000-0000-0000-0000-0000000000r1";

function ev(seq: number, text = `text ${seq}`): Event {
  return {
    session_id: "s1",
    seq,
    run_id: RUN,
    run_seq: seq,
    time: new Date(1_700_000_000_000 + seq).toISOString(),
    type: "assistant_text",
    payload: { text },
  };
}

const add = (log: EventLog, ...seqs: number[]) => reduceLog(log, { type: "add", events: seqs.map((s) => ev(s)) });
const seqs = (log: EventLog) => log.events.map((e) => e.seq);

describe("event log", () => {
  it("keeps events in sequence order whatever order they arrive in", () => {
    let log = add(emptyLog, 3, 1);
    log = add(log, 5, 2, 4);
    expect(seqs(log)).toEqual([1, 2, 3, 4, 5]);
    expect(log.contiguous).toBe(5);
  });

  it("drops duplicates from overlapping sources (REST history and socket replay)", () => {
    let log = add(emptyLog, 1, 2, 3);
    const before = log;
    log = add(log, 2, 3);
    expect(log).toBe(before); // nothing new: the same object, no re-render
    log = add(log, 3, 4, 4, 5);
    expect(seqs(log)).toEqual([1, 2, 3, 4, 5]);
  });

  it("keeps the first copy of a duplicate", () => {
    let log = reduceLog(emptyLog, { type: "add", events: [ev(1, "first")] });
    log = reduceLog(log, { type: "add", events: [ev(1, "second"), ev(2)] });
    const first = log.events[0]!;
    expect(first.type === "assistant_text" && first.payload.text).toBe("first");
  });

  it("resumes after the last event held without a gap", () => {
    let log = add(emptyLog, 1, 2, 3);
    expect(resumeAfter(log)).toBe(3);
    log = add(log, 6, 7); // 4 and 5 are missing
    expect(resumeAfter(log)).toBe(3);
    log = add(log, 4);
    expect(resumeAfter(log)).toBe(4);
    log = add(log, 5);
    expect(resumeAfter(log)).toBe(7);
  });

  it("a replay after a reconnect adds only what is new", () => {
    let log = add(emptyLog, ...Array.from({ length: 100 }, (_, i) => i + 1));
    const after = resumeAfter(log);
    // The server replays from `after`; a buggy server or a second source might send more.
    log = add(log, ...Array.from({ length: 30 }, (_, i) => after - 10 + i + 1));
    expect(seqs(log)).toEqual(Array.from({ length: 120 }, (_, i) => i + 1));
    expect(new Set(seqs(log)).size).toBe(log.events.length);
  });

  it("reset empties the log", () => {
    const log = reduceLog(add(emptyLog, 1, 2), { type: "reset" });
    expect(log.events).toEqual([]);
    expect(resumeAfter(log)).toBe(0);
  });

  it("bumps the version only on change", () => {
    const a = add(emptyLog, 1);
    const b = add(a, 1);
    const c = add(b, 2);
    expect(b.version).toBe(a.version);
    expect(c.version).toBe(a.version + 1);
  });

  it("handles 5,000 events one at a time quickly", () => {
    let log = emptyLog;
    const start = performance.now();
    for (let s = 1; s <= 5000; s++) log = add(log, s);
    expect(log.contiguous).toBe(5000);
    // Generous bound: the fast path appends; a quadratic re-sort would take seconds.
    expect(performance.now() - start).toBeLessThan(2000);
  });
});
