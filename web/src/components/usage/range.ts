// The usage screen's date range: calendar days (`YYYY-MM-DD`) in the reader's time zone, both ends
// inclusive on screen. The API takes the day after the last one (`to` is exclusive) and at most 366
// days.

/** A calendar day, `YYYY-MM-DD`. */
export type IsoDate = string;

/** Both ends inclusive. */
export interface DayRange {
  from: IsoDate;
  to: IsoDate;
}

export const PRESETS = [7, 30, 90] as const;
export const MAX_DAYS = 366;
const DAY_MS = 86_400_000;

const ISO = /^(\d{4})-(\d{2})-(\d{2})$/;

/** The day `d` falls on in the browser's time zone. */
export function localIsoDate(d: Date): IsoDate {
  return `${String(d.getFullYear()).padStart(4, "0")}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

function pad(n: number): string {
  return String(n).padStart(2, "0");
}

/** The day's number since 1970-01-01, or `null` when `s` is not a real date. */
export function dayNumber(s: string): number | null {
  const m = ISO.exec(s);
  if (!m) return null;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const t = Date.UTC(y, mo - 1, d);
  const back = new Date(t);
  // 2025-02-30 rolls over to March: not a date.
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d) return null;
  return Math.round(t / DAY_MS);
}

function fromDayNumber(n: number): IsoDate {
  const d = new Date(n * DAY_MS);
  return `${String(d.getUTCFullYear()).padStart(4, "0")}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
}

/** `day` moved by `n` days (calendar arithmetic, no time zone involved). */
export function addDays(day: IsoDate, n: number): IsoDate {
  const at = dayNumber(day);
  if (at === null) throw new Error(`not a date: ${day}`);
  return fromDayNumber(at + n);
}

/** How many days the range spans, both ends counted (0 when it is not a valid range). */
export function rangeLength(r: DayRange): number {
  const a = dayNumber(r.from);
  const b = dayNumber(r.to);
  if (a === null || b === null || b < a) return 0;
  return b - a + 1;
}

/** The last `days` days, today included. */
export function presetRange(days: number, today: IsoDate): DayRange {
  return { from: addDays(today, -(days - 1)), to: today };
}

/** The preset the range is, if any (so its button shows as chosen). */
export function matchingPreset(r: DayRange, today: IsoDate): number | null {
  if (r.to !== today) return null;
  return PRESETS.find((p) => presetRange(p, today).from === r.from) ?? null;
}

export type RangeProblem = "invalid" | "order" | "too_long";

/** Why the API would refuse the range, or `null`. */
export function rangeProblem(r: DayRange): RangeProblem | null {
  const a = dayNumber(r.from);
  const b = dayNumber(r.to);
  if (a === null || b === null) return "invalid";
  if (b < a) return "order";
  if (b - a + 1 > MAX_DAYS) return "too_long";
  return null;
}

/** The query's `from` and `to` (exclusive: the day after the last one shown). */
export function apiRange(r: DayRange): { from: IsoDate; to: IsoDate } {
  return { from: r.from, to: addDays(r.to, 1) };
}
