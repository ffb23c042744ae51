"use client";
import { useFormatter, useTranslations } from "next-intl";
import { useCallback } from "react";

/** A byte count as people read it, in the UI's language: 512 B, 1.5 kB, 3.2 MB. */
export function useFileSize(): (bytes: number) => string {
  const format = useFormatter();
  const t = useTranslations("files.size");
  return useCallback(
    (bytes: number) => {
      if (bytes < 1024) return t("bytes", { count: bytes });
      if (bytes < 1024 * 1024)
        return format.number(bytes / 1024, { style: "unit", unit: "kilobyte", unitDisplay: "short", maximumFractionDigits: 1 });
      if (bytes < 1024 * 1024 * 1024)
        return format.number(bytes / 1024 / 1024, { style: "unit", unit: "megabyte", unitDisplay: "short", maximumFractionDigits: 1 });
      return format.number(bytes / 1024 / 1024 / 1024, { style: "unit", unit: "gigabyte", unitDisplay: "short", maximumFractionDigits: 1 });
    },
    [format, t],
  );
}
