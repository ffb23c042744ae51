"use client";
// Reads a file's presigned URL as text, page by page (`Range`, src/lib/paging.ts), with "load
// more". The store must let this page read it (CORS); when it does not, `failure` says so.
import { useCallback, useEffect, useRef, useState } from "react";
import { API_CREDENTIALS } from "@/lib/api";
import { afterPage, looksBinary, nextPage, pageDecoder, PAGE_SIZE } from "@/lib/paging";

export type ReadFailure = { kind: "blocked" } | { kind: "status"; status: number };

export interface PagedText {
  text: string;
  /** Bytes read so far. */
  loaded: number;
  done: boolean;
  loading: boolean;
  failure: ReadFailure | null;
  /** The first page holds a NUL byte: not text. */
  binary: boolean;
  loadMore: () => void;
}

type State = Omit<PagedText, "loadMore">;

const START: State = { text: "", loaded: 0, done: false, loading: true, failure: null, binary: false };

/** `pageSize`: bytes per page; a file no larger is read with one plain GET. */
export function usePagedText(url: string | null, size: number, pageSize = PAGE_SIZE): PagedText {
  const [state, setState] = useState<State>(START);
  const gen = useRef(0);
  const decoder = useRef(pageDecoder());
  const ctrl = useRef<AbortController | null>(null);

  const read = useCallback(
    async (offset: number, myGen: number) => {
      if (!url) return;
      const req = size > pageSize ? nextPage(offset, size, pageSize) : null;
      if (size > pageSize && !req) return;
      const c = new AbortController();
      ctrl.current = c;
      setState((s) => ({ ...s, loading: true }));
      try {
        const res = await fetch(url, {
          signal: c.signal,
          headers: req ? { Range: req.header } : undefined,
          cache: "no-store",
          credentials: API_CREDENTIALS,
        });
        if (!res.ok) throw { status: res.status };
        const bytes = new Uint8Array(await res.arrayBuffer());
        if (myGen !== gen.current) return;
        const outcome = req ? afterPage(res.status, bytes.length, req, size) : { offset: bytes.length, done: true, restart: true };
        if (outcome.restart) decoder.current = pageDecoder();
        if (offset === 0 || outcome.restart) {
          if (looksBinary(bytes)) {
            setState({ text: "", loaded: bytes.length, done: true, loading: false, failure: null, binary: true });
            return;
          }
        }
        const chunk = decoder.current(bytes, outcome.done);
        setState((s) => ({
          text: outcome.restart ? chunk : s.text + chunk,
          loaded: outcome.offset,
          done: outcome.done,
          loading: false,
          failure: null,
          binary: false,
        }));
      } catch (e) {
        if (myGen !== gen.current || c.signal.aborted) return;
        const failure: ReadFailure =
          typeof e === "object" && e !== null && "status" in e ? { kind: "status", status: Number((e as { status: number }).status) } : { kind: "blocked" };
        setState((s) => ({ ...s, loading: false, failure }));
      }
    },
    [url, size, pageSize],
  );

  useEffect(() => {
    const myGen = ++gen.current;
    decoder.current = pageDecoder();
    setState(START);
    void read(0, myGen);
    return () => ctrl.current?.abort();
  }, [read]);

  const loaded = state.loaded;
  const busy = state.loading || state.done;
  const loadMore = useCallback(() => {
    if (!busy) void read(loaded, gen.current);
  }, [busy, loaded, read]);

  return { ...state, loadMore };
}

/** Reads a file as a Blob (PDF preview); the same failures. */
export function useBlob(url: string | null, type: string): { blobUrl: string | null; failure: ReadFailure | null } {
  const [blobUrl, setBlobUrl] = useState<string | null>(null);
  const [failure, setFailure] = useState<ReadFailure | null>(null);
  useEffect(() => {
    setBlobUrl(null);
    setFailure(null);
    if (!url) return;
    const c = new AbortController();
    let made: string | null = null;
    fetch(url, { signal: c.signal, credentials: API_CREDENTIALS })
      .then(async (res) => {
        if (!res.ok) throw { status: res.status };
        // The type is set here, whatever the store said: the frame shows a PDF or nothing.
        made = URL.createObjectURL(new Blob([await res.arrayBuffer()], { type }));
        setBlobUrl(made);
      })
      .catch((e) => {
        if (c.signal.aborted) return;
        setFailure(typeof e === "object" && e !== null && "status" in e ? { kind: "status", status: Number(e.status) } : { kind: "blocked" });
      });
    return () => {
      c.abort();
      if (made) URL.revokeObjectURL(made);
    };
  }, [url, type]);
  return { blobUrl, failure };
}
