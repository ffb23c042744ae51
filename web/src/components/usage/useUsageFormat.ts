"use client";
// The usage screen's numbers and dates in the reader's language (next-intl's formatter).
import { useFormatter } from "next-intl";
import { useMemo } from "react";
import { dayTimestamp, durationParts } from "./chartData";

export function useUsageFormat() {
  const format = useFormatter();
  return useMemo(() => {
    const whole = (v: number) => format.number(v, { maximumFractionDigits: 0 });
    return {
      format,
      /** US dollars; a small amount with up to four decimals so it does not read as zero. */
      money: (usd: number) => format.number(usd, { style: "currency", currency: "USD", minimumFractionDigits: 2, maximumFractionDigits: usd > 0 && usd < 1 ? 4 : 2 }),
      compact: (v: number) => format.number(v, { notation: "compact", maximumFractionDigits: 1 }),
      whole,
      percent: (rate: number | null) => (rate === null ? "—" : format.number(rate, { style: "percent", maximumFractionDigits: 1 })),
      duration: (ms: number | null) => {
        if (ms === null) return "—";
        const { value, unit } = durationParts(ms);
        return format.number(value, { style: "unit", unit, unitDisplay: "short", maximumFractionDigits: 1 });
      },
      /** A report day (`YYYY-MM-DD`) as a date. */
      day: (key: string, long = false) => {
        const t = dayTimestamp(key);
        if (t === null) return key;
        return format.dateTime(new Date(t * 1000), long ? { weekday: "short", year: "numeric", month: "short", day: "numeric" } : { year: "numeric", month: "short", day: "numeric" });
      },
      /** A chart's x value (seconds) as a date. */
      tick: (seconds: number) => format.dateTime(new Date(seconds * 1000), { month: "short", day: "numeric" }),
      when: (seconds: number | null) =>
        seconds === null ? "—" : format.dateTime(new Date(seconds * 1000), { weekday: "short", year: "numeric", month: "short", day: "numeric" }),
    };
  }, [format]);
}

export type UsageFormat = ReturnType<typeof useUsageFormat>;
