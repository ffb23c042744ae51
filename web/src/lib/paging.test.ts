import { describe, expect, it } from "vitest";
import { afterPage, looksBinary, nextPage, pageCount, pageDecoder, PAGE_SIZE } from "./paging";

describe("paging", () => {
  it("asks for 256 KiB pages, the last one short, then nothing", () => {
    const size = PAGE_SIZE * 2 + 10;
    expect(nextPage(0, size)).toEqual({ start: 0, end: PAGE_SIZE - 1, header: `bytes=0-${PAGE_SIZE - 1}` });
    expect(nextPage(PAGE_SIZE * 2, size)).toEqual({
      start: PAGE_SIZE * 2,
      end: size - 1,
      header: `bytes=${PAGE_SIZE * 2}-${size - 1}`,
    });
    expect(nextPage(size, size)).toBeNull();
    expect(nextPage(0, 0)).toBeNull();
    expect(pageCount(size)).toBe(3);
    expect(pageCount(PAGE_SIZE)).toBe(1);
    expect(pageCount(0)).toBe(1);
  });

  it("moves on by what a 206 brought, and stops at the end", () => {
    const req = nextPage(0, 100, 40)!;
    expect(afterPage(206, 40, req, 100)).toEqual({ offset: 40, done: false, restart: false });
    const last = nextPage(80, 100, 40)!;
    expect(last.header).toBe("bytes=80-99");
    expect(afterPage(206, 20, last, 100)).toEqual({ offset: 100, done: true, restart: false });
    // A short answer (the file shrank): the next request starts where it ended.
    expect(afterPage(206, 10, req, 100)).toEqual({ offset: 10, done: false, restart: false });
    // An empty 206 never loops.
    expect(afterPage(206, 0, req, 100).done).toBe(true);
  });

  it("takes a 200 (Range ignored) as the whole file", () => {
    const req = nextPage(0, 100, 40)!;
    expect(afterPage(200, 100, req, 100)).toEqual({ offset: 100, done: true, restart: true });
  });

  it("decodes a character split across pages whole", () => {
    const bytes = new TextEncoder().encode("añb€c");
    const decode = pageDecoder();
    // "ñ" is 2 bytes (1..2), "€" 3 bytes (4..6): cut inside each.
    const text = decode(bytes.slice(0, 2), false) + decode(bytes.slice(2, 5), false) + decode(bytes.slice(5), true);
    expect(text).toBe("añb€c");
  });

  it("tells binary from text by a NUL byte", () => {
    expect(looksBinary(new Uint8Array([0x50, 0x4b, 0x03, 0x04, 0x00]))).toBe(true);
    expect(looksBinary(new TextEncoder().encode("plain text\n"))).toBe(false);
  });
});
