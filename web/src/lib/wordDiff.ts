// A diff's hunks as rows for the unified and side-by-side views, with word-level highlights in
// changed line pairs: within each run of removed lines followed by added lines, the i-th removed
// line pairs with the i-th added one, and `diffWordsWithSpace` marks what differs between them.
// Pairs too long, or too different to read as an edit of one another, get no word highlight.
import { diffWordsWithSpace, structuredPatch } from "diff";
import type { DiffHunk, DiffLine } from "@/generated/protocol";

export interface Segment {
  text: string;
  /** Removed (on the old side) or added (on the new side). */
  changed: boolean;
}

export interface ViewLine {
  line: DiffLine;
  /** Word-level segments when the line is half of a changed pair; null otherwise. */
  segments: Segment[] | null;
}

export type SplitRow =
  | { kind: "context"; left: ViewLine; right: ViewLine }
  | { kind: "change"; left: ViewLine | null; right: ViewLine | null };

/** Lines longer than this get no word diff (the algorithm is quadratic in the worst case). */
export const WORD_DIFF_MAX = 1000;
/** Below this share of unchanged characters, a pair is shown as whole lines. */
export const WORD_DIFF_MIN_COMMON = 0.35;

/** What differs between two versions of a line, word by word; null when not worth showing. */
export function wordSegments(oldText: string, newText: string): { old: Segment[]; new: Segment[] } | null {
  if (oldText.length > WORD_DIFF_MAX || newText.length > WORD_DIFF_MAX) return null;
  if (oldText === newText) return null;
  const parts = diffWordsWithSpace(oldText, newText);
  const old: Segment[] = [];
  const nu: Segment[] = [];
  let common = 0;
  for (const p of parts) {
    if (p.added) nu.push({ text: p.value, changed: true });
    else if (p.removed) old.push({ text: p.value, changed: true });
    else {
      common += p.value.length;
      old.push({ text: p.value, changed: false });
      nu.push({ text: p.value, changed: false });
    }
  }
  const longest = Math.max(oldText.length, newText.length);
  if (longest > 0 && common / longest < WORD_DIFF_MIN_COMMON) return null;
  return { old: merge(old), new: merge(nu) };
}

function merge(segs: Segment[]): Segment[] {
  const out: Segment[] = [];
  for (const s of segs) {
    const last = out[out.length - 1];
    if (last && last.changed === s.changed) last.text += s.text;
    else if (s.text) out.push({ ...s });
  }
  return out;
}

type Block = { kind: "context"; lines: DiffLine[] } | { kind: "change"; removed: DiffLine[]; added: DiffLine[] };

/** A hunk's lines as context lines and change blocks (removed lines, then added lines). */
function blocks(lines: DiffLine[]): Block[] {
  const out: Block[] = [];
  for (const line of lines) {
    const last = out[out.length - 1];
    if (line.kind === "context") {
      if (last?.kind === "context") last.lines.push(line);
      else out.push({ kind: "context", lines: [line] });
    } else {
      // An addition after a removal joins its block; a removal after additions starts a new one.
      if (last?.kind === "change" && (line.kind === "add" || last.added.length === 0)) {
        (line.kind === "add" ? last.added : last.removed).push(line);
      } else {
        out.push({ kind: "change", removed: line.kind === "remove" ? [line] : [], added: line.kind === "add" ? [line] : [] });
      }
    }
  }
  return out;
}

/** The pairs of a change block, with their word segments. */
function paired(b: Extract<Block, { kind: "change" }>): { removed: ViewLine[]; added: ViewLine[] } {
  const removed: ViewLine[] = b.removed.map((line) => ({ line, segments: null }));
  const added: ViewLine[] = b.added.map((line) => ({ line, segments: null }));
  const n = Math.min(removed.length, added.length);
  for (let i = 0; i < n; i++) {
    const r = removed[i]!;
    const a = added[i]!;
    const w = wordSegments(r.line.text, a.line.text);
    if (w) {
      r.segments = w.old;
      a.segments = w.new;
    }
  }
  return { removed, added };
}

/** The unified view: the hunk's lines in order, removed before added, with word segments. */
export function unifiedRows(hunk: DiffHunk): ViewLine[] {
  const out: ViewLine[] = [];
  for (const b of blocks(hunk.lines)) {
    if (b.kind === "context") out.push(...b.lines.map((line) => ({ line, segments: null })));
    else {
      const p = paired(b);
      out.push(...p.removed, ...p.added);
    }
  }
  return out;
}

/** The side-by-side view: context on both sides; a change block's i-th removed and added lines
 * side by side, the longer side's rest against blanks. */
export function splitRows(hunk: DiffHunk): SplitRow[] {
  const out: SplitRow[] = [];
  for (const b of blocks(hunk.lines)) {
    if (b.kind === "context") {
      for (const line of b.lines) out.push({ kind: "context", left: { line, segments: null }, right: { line, segments: null } });
    } else {
      const p = paired(b);
      const n = Math.max(p.removed.length, p.added.length);
      for (let i = 0; i < n; i++) out.push({ kind: "change", left: p.removed[i] ?? null, right: p.added[i] ?? null });
    }
  }
  return out;
}

/** The `@@ -a,b +c,d @@` header of a hunk. */
export function hunkHeader(h: DiffHunk): string {
  return `@@ -${h.old_start},${h.old_lines} +${h.new_start},${h.new_lines} @@`;
}

/** Hunks (the backend's shape) of `before` → `after`, for the diffs of edit tools' inputs, which
 * carry both texts: `context` unchanged lines around each change, longer stretches folded. */
export function hunksFromTexts(before: string, after: string, context = 3): DiffHunk[] {
  const patch = structuredPatch("a", "b", before, after, undefined, undefined, { context });
  return patch.hunks.map((h) => {
    const lines: DiffLine[] = [];
    let o = h.oldStart;
    let n = h.newStart;
    for (const raw of h.lines) {
      const sign = raw[0];
      const text = raw.slice(1);
      if (sign === "\\") {
        const last = lines[lines.length - 1];
        if (last) last.no_newline = true;
      } else if (sign === "+") lines.push({ kind: "add", old_line: null, new_line: n++, text, no_newline: false });
      else if (sign === "-") lines.push({ kind: "remove", old_line: o++, new_line: null, text, no_newline: false });
      else lines.push({ kind: "context", old_line: o++, new_line: n++, text, no_newline: false });
    }
    return { old_start: h.oldStart, old_lines: h.oldLines, new_start: h.newStart, new_lines: h.newLines, lines };
  });
}
