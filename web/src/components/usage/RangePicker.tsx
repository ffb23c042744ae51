"use client";
// The usage screen's days: two date inputs (both days included) and the 7/30/90-day presets.
import { useTranslations } from "next-intl";
import { matchingPreset, PRESETS, presetRange, rangeProblem, type DayRange, type IsoDate } from "./range";

export function RangePicker({ range, today, onChange }: { range: DayRange; today: IsoDate; onChange: (r: DayRange) => void }) {
  const t = useTranslations("usage.range");
  const preset = matchingPreset(range, today);
  const problem = rangeProblem(range);
  return (
    <div className="usage-range" role="group" aria-label={t("label")}>
      <div className="segmented" role="group" aria-label={t("presets")}>
        {PRESETS.map((days) => (
          <button
            key={days}
            type="button"
            className={preset === days ? "active" : ""}
            aria-pressed={preset === days}
            onClick={() => onChange(presetRange(days, today))}
            data-testid={`usage-preset-${days}`}
          >
            {t("preset", { days })}
          </button>
        ))}
      </div>
      <label className="inline small">
        {t("from")}
        <input type="date" value={range.from} max={range.to || undefined} required onChange={(e) => onChange({ ...range, from: e.target.value })} data-testid="usage-from" />
      </label>
      <label className="inline small">
        {t("to")}
        <input type="date" value={range.to} min={range.from || undefined} required onChange={(e) => onChange({ ...range, to: e.target.value })} data-testid="usage-to" />
      </label>
      {problem && (
        <span className="error small" role="alert">
          {t(`problem.${problem}`)}
        </span>
      )}
    </div>
  );
}
