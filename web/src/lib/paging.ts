// Large files are read page by page with `Range` requests on their presigned URL (S3 answers
// 206 Partial Content). A store that ignores the header answers 200 with the whole file: that is
// taken as the last page. Pages are decoded as one UTF-8 stream, so a character split across two
// pages is decoded whole.

export const PAGE_SIZE = 256 * 1024;

export interface PageRequest {
  start: number;
  /** Inclusive, as in the header. */
  end: number;
  header: string;
}

/** The next page's range from `offset` of a `size`-byte file; null when nothing is left. */
export function nextPage(offset: number, size: number, pageSize = PAGE_SIZE): PageRequest | null {
  if (offset >= size || pageSize <= 0) return null;
  const end = Math.min(offset + pageSize, size) - 1;
  return { start: offset, end, header: `bytes=${offset}-${end}` };
}

export interface PageOutcome {
  /** Where the next page starts. */
  offset: number;
  done: boolean;
  /** The store sent the whole file (it ignored `Range`): the text restarts from this body. */
  restart: boolean;
}

/** What a page's answer means for the reading position. */
export function afterPage(status: number, received: number, req: PageRequest, size: number): PageOutcome {
  if (status === 206) {
    const offset = req.start + received;
    return { offset, done: offset >= size || received === 0, restart: false };
  }
  // 200: the whole object (whatever its actual length now is).
  return { offset: received, done: true, restart: true };
}

/** How many pages a file has, and how many are read. */
export function pageCount(size: number, pageSize = PAGE_SIZE): number {
  return size <= 0 ? 1 : Math.ceil(size / pageSize);
}

/** A UTF-8 decoder over pages (keeps a split multi-byte character for the next page). */
export function pageDecoder(): (bytes: Uint8Array, last: boolean) => string {
  const dec = new TextDecoder("utf-8");
  return (bytes, last) => dec.decode(bytes, { stream: !last });
}

/** Text that looks binary (a NUL byte in the first few kilobytes) gets no text preview. */
export function looksBinary(bytes: Uint8Array): boolean {
  const n = Math.min(bytes.length, 8000);
  for (let i = 0; i < n; i++) if (bytes[i] === 0) return true;
  return false;
}
