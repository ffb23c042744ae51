import { memo, useMemo } from "react";
import { diffLines } from "diff";

/** A line diff of `before` → `after`, with long unchanged stretches folded. */
export const Diff = memo(function Diff({ before, after, path }: { before: string; after: string; path?: string }) {
  const lines = useMemo(() => {
    const out: { sign: "+" | "-" | " " | "…"; text: string }[] = [];
    for (const part of diffLines(before, after)) {
      const sign: "+" | "-" | " " = part.added ? "+" : part.removed ? "-" : " ";
      const body = part.value.endsWith("\n") ? part.value.slice(0, -1) : part.value;
      const ls = body.split("\n");
      if (sign === " " && ls.length > 6) {
        out.push(...ls.slice(0, 3).map((text) => ({ sign, text })));
        out.push({ sign: "…", text: `${ls.length - 6} unchanged lines` });
        out.push(...ls.slice(-3).map((text) => ({ sign, text })));
      } else {
        out.push(...ls.map((text) => ({ sign, text })));
      }
    }
    return out;
  }, [before, after]);
  return (
    <div className="diff" aria-label={path ? `Changes to ${path}` : "Changes"}>
      {lines.map((l, i) => (
        <div key={i} className={`diff-line ${l.sign === "+" ? "add" : l.sign === "-" ? "del" : l.sign === "…" ? "fold" : ""}`}>
          <span className="diff-sign">{l.sign === "…" ? "" : l.sign}</span>
          <span>{l.text}</span>
        </div>
      ))}
    </div>
  );
});
