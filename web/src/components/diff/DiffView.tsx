"use client";
// Renders a diff's hunks, unified or side by side, with word-level highlights in changed line
// pairs (src/lib/wordDiff.ts). Long lines wrap in the side-by-side view and scroll in the unified
// one.
import { memo, useMemo } from "react";
import { useTranslations } from "next-intl";
import type { DiffHunk } from "@/generated/protocol";
import { hunkHeader, splitRows, unifiedRows, type ViewLine } from "@/lib/wordDiff";

export type DiffMode = "unified" | "split";

export const DiffView = memo(function DiffView({
  hunks,
  mode,
  lineNumbers = true,
  label,
}: {
  hunks: DiffHunk[];
  mode: DiffMode;
  lineNumbers?: boolean;
  label?: string;
}) {
  const rows = useMemo(
    () => hunks.map((h) => (mode === "split" ? { h, split: splitRows(h) } : { h, unified: unifiedRows(h) })),
    [hunks, mode],
  );
  const t = useTranslations("files.diff");
  return (
    <div className={`dv dv-${mode}${lineNumbers ? "" : " dv-nonum"}`} aria-label={label} role="table" data-testid="diff-view">
      <div className="dv-inner">
      {rows.map((r, i) => (
        <div key={i} role="rowgroup" className="dv-hunk">
          {(hunks.length > 1 || lineNumbers) && (
            <div className="dv-hunk-head" role="row">
              <span role="cell">{lineNumbers ? hunkHeader(r.h) : "⋯"}</span>
            </div>
          )}
          {"unified" in r &&
            r.unified?.map((v, j) => (
              <div key={j} role="row" className={`dv-row dv-${v.line.kind}`}>
                {lineNumbers && (
                  <>
                    <span className="dv-num" role="cell">
                      {v.line.old_line ?? ""}
                    </span>
                    <span className="dv-num" role="cell">
                      {v.line.new_line ?? ""}
                    </span>
                  </>
                )}
                <span className="dv-sign" aria-hidden="true">
                  {v.line.kind === "add" ? "+" : v.line.kind === "remove" ? "-" : " "}
                </span>
                <Text v={v} side={v.line.kind === "remove" ? "old" : "new"} noNewline={t("noNewline")} />
              </div>
            ))}
          {"split" in r &&
            r.split?.map((row, j) => (
              <div key={j} role="row" className={`dv-row dv-split-row`}>
                <Half v={row.left} side="old" kind={row.kind === "context" ? "context" : "remove"} lineNumbers={lineNumbers} noNewline={t("noNewline")} />
                <Half v={row.right} side="new" kind={row.kind === "context" ? "context" : "add"} lineNumbers={lineNumbers} noNewline={t("noNewline")} />
              </div>
            ))}
        </div>
      ))}
      </div>
    </div>
  );
});

function Half({
  v,
  side,
  kind,
  lineNumbers,
  noNewline,
}: {
  v: ViewLine | null;
  side: "old" | "new";
  kind: "context" | "add" | "remove";
  lineNumbers: boolean;
  noNewline: string;
}) {
  if (!v) {
    return (
      <>
        {lineNumbers && <span className="dv-num dv-empty" role="cell" />}
        <span className="dv-text dv-empty" role="cell" />
      </>
    );
  }
  const n = side === "old" ? v.line.old_line : v.line.new_line;
  return (
    <>
      {lineNumbers && (
        <span className={`dv-num dv-${kind}`} role="cell">
          {n ?? ""}
        </span>
      )}
      <Text v={v} side={side} kind={kind} noNewline={noNewline} />
    </>
  );
}

function Text({ v, side, kind, noNewline }: { v: ViewLine; side: "old" | "new"; kind?: string; noNewline: string }) {
  const mark = side === "old" ? "dv-word-del" : "dv-word-add";
  return (
    <span className={`dv-text${kind ? ` dv-${kind}` : ""}`} role="cell">
      {v.segments
        ? v.segments.map((s, i) =>
            s.changed ? (
              <span key={i} className={mark}>
                {s.text}
              </span>
            ) : (
              <span key={i}>{s.text}</span>
            ),
          )
        : v.line.text}
      {v.line.no_newline && (
        <span className="dv-nonl" title={noNewline} aria-label={noNewline}>
          ⏎̸
        </span>
      )}
    </span>
  );
}
