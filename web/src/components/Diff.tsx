"use client";
import { memo, useMemo } from "react";
import { useTranslations } from "next-intl";
import { hunksFromTexts } from "@/lib/wordDiff";
import { DiffView } from "./diff/DiffView";

// An edit tool's fragment need not end with a line break: the same ending on both sides keeps
// "no newline at end of file" marks off what is only a piece of a file.
const line = (s: string) => (s === "" || s.endsWith("\n") ? s : `${s}\n`);

/** A line diff of `before` → `after` (an Edit/Write call's texts), with word-level highlights and
 * long unchanged stretches folded. */
export const Diff = memo(function Diff({ before, after, path }: { before: string; after: string; path?: string }) {
  const t = useTranslations("files.diff");
  const hunks = useMemo(() => hunksFromTexts(line(before), line(after)), [before, after]);
  return (
    <div className="diff">
      <DiffView hunks={hunks} mode="unified" lineNumbers={false} label={path ? t("changesTo", { path }) : t("changes")} />
    </div>
  );
});
