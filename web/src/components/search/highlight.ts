// A search hit's snippet cut into plain and matching stretches. The server sends `[start, end)`
// offsets in UTF-16 code units (what `String.prototype.slice` counts), sorted and apart; this
// still copes with ranges out of bounds, empty, unsorted or overlapping (they are clamped, dropped
// or merged), so a wrong answer can never lose or repeat text. The pieces are rendered as text
// nodes and `<mark>`s — never as HTML.

export interface Piece {
  text: string;
  mark: boolean;
}

export function splitHighlights(snippet: string, ranges: ReadonlyArray<readonly [number, number]>): Piece[] {
  const n = snippet.length;
  const clean = ranges
    .map(([s, e]) => [clamp(s, n), clamp(e, n)] as const)
    .filter(([s, e]) => e > s)
    .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const merged: [number, number][] = [];
  for (const [s, e] of clean) {
    const last = merged[merged.length - 1];
    if (last && s <= last[1]) last[1] = Math.max(last[1], e);
    else merged.push([s, e]);
  }
  const pieces: Piece[] = [];
  let at = 0;
  for (const [s, e] of merged) {
    if (s > at) pieces.push({ text: snippet.slice(at, s), mark: false });
    pieces.push({ text: snippet.slice(s, e), mark: true });
    at = e;
  }
  if (at < n) pieces.push({ text: snippet.slice(at), mark: false });
  return pieces;
}

function clamp(v: number, n: number): number {
  if (!Number.isFinite(v)) return 0;
  return Math.min(Math.max(Math.trunc(v), 0), n);
}
