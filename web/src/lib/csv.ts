// CSV in both directions, one home. Reading: a small RFC 4180 parser for the CSV preview: fields separated by `,` (or `\t` for .tsv), records
// by CRLF or LF (a lone CR too); a field in double quotes may hold separators, line breaks and
// `""` for a quote. Lenient where the RFC is strict: a quote inside an unquoted field is kept as
// text, text after a closing quote is appended, and an unterminated quote runs to the end (and is
// reported). Stops after `maxRows` records.

export interface CsvResult {
  rows: string[][];
  /** More records followed than `maxRows`. */
  truncated: boolean;
  /** A quoted field was still open at the end of the text. */
  unterminated: boolean;
}

export function parseCsv(text: string, opts: { delimiter?: string; maxRows?: number } = {}): CsvResult {
  const delim = opts.delimiter ?? ",";
  const maxRows = opts.maxRows ?? Infinity;
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false; // inside a quoted field
  let i = 0;
  // A BOM is not part of the first field.
  if (text.charCodeAt(0) === 0xfeff) i = 1;
  const n = text.length;
  const endRecord = (): boolean => {
    row.push(field);
    field = "";
    rows.push(row);
    row = [];
    return rows.length >= maxRows;
  };
  while (i < n) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
        i += 1;
        continue;
      }
      field += c;
      i += 1;
      continue;
    }
    if (c === '"' && field === "") {
      quoted = true;
      i += 1;
    } else if (c === delim) {
      row.push(field);
      field = "";
      i += 1;
    } else if (c === "\r" || c === "\n") {
      i += c === "\r" && text[i + 1] === "\n" ? 2 : 1;
      if (endRecord()) return { rows, truncated: hasMore(text, i), unterminated: false };
    } else {
      field += c;
      i += 1;
    }
  }
  // The last record, unless the text ended with a line break (no empty record after it).
  if (quoted || field !== "" || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return { rows, truncated: false, unterminated: quoted };
}

function hasMore(text: string, from: number): boolean {
  return text.slice(from).trim() !== "";
}

/** The delimiter for a file: tab for .tsv/.tab, else comma. */
export function delimiterFor(path: string): string {
  return /\.(tsv|tab)$/i.test(path) ? "\t" : ",";
}

// Writing: CSV as RFC 4180 writes it (the Usage screen's export): fields with a comma, a quote or a line break in double quotes (a
// quote doubled), lines ending in CRLF. The file starts with a UTF-8 byte order mark so Excel reads
// non-ASCII text (Chinese project names) as UTF-8.

export type Cell = string | number | null | undefined;

export const BOM = "\uFEFF";

/** One field, quoted when it needs to be. `null` is an empty field. */
export function csvField(value: Cell): string {
  if (value === null || value === undefined) return "";
  const s = typeof value === "number" ? (Number.isFinite(value) ? String(value) : "") : value;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The whole file's text, byte order mark included. */
export function toCsv(rows: Cell[][]): string {
  return BOM + rows.map((r) => r.map(csvField).join(",")).join("\r\n") + "\r\n";
}

/** Hands the text to the browser as a download. */
export function downloadCsv(filename: string, text: string): void {
  const url = URL.createObjectURL(new Blob([text], { type: "text/csv;charset=utf-8" }));
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  a.style.display = "none";
  document.body.appendChild(a);
  a.click();
  a.remove();
  // Let the download start before the URL goes.
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
