// How long something has been running, split for a message ("42s", "3m 05s", "1h 02m"): the
// numbers here, the words in the `sessions` messages (so each language writes its own).

export interface Elapsed {
  /** Which message to use: under a minute, under an hour, or longer. */
  unit: "seconds" | "minutes" | "hours";
  hours: number;
  minutes: number;
  seconds: number;
}

/** The time from `since` (ISO 8601) to `now` (ms since the epoch); a clock ahead of the reader's
 * counts as zero. `null` for a missing or unreadable start. */
export function elapsedSince(since: string | null | undefined, now: number): Elapsed | null {
  if (!since) return null;
  const start = Date.parse(since);
  if (Number.isNaN(start)) return null;
  return splitElapsed(now - start);
}

export function splitElapsed(ms: number): Elapsed {
  const total = Math.max(0, Math.floor(ms / 1000));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  return { unit: hours > 0 ? "hours" : minutes > 0 ? "minutes" : "seconds", hours, minutes, seconds };
}

/** Two digits ("05"), for the smaller unit after a larger one. */
export function pad2(n: number): string {
  return String(n).padStart(2, "0");
}
