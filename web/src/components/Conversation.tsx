"use client";
// The conversation as a virtualized list: only the rows near the viewport are in the DOM, so a
// session with thousands of events stays responsive. It follows the bottom while the reader is
// there and stays put when they scroll up. Opened at a search hit (`focus`), it scrolls to that
// row once it exists and lights it up briefly; while the page still waits for it (`hold`), it
// does not follow the bottom.
import { memo, useEffect, useLayoutEffect, useRef, useState } from "react";
import { useVirtualizer } from "@tanstack/react-virtual";
import type { Item } from "@/lib/conversation";
import { ItemRow } from "./ItemRow";
import "./search/search.css";

/** A row to bring into view: `key` the row's, `id` the request's (a new id scrolls again). */
export interface FocusRequest {
  key: string;
  id: string;
}

const FLASH_MS = 2600;

export function Conversation({
  items,
  onRetry,
  focus = null,
  hold = false,
  onFocused,
}: {
  items: Item[];
  onRetry: (runId: string) => void;
  focus?: FocusRequest | null;
  hold?: boolean;
  /** Called once the row of `focus` was scrolled to. */
  onFocused?: (id: string) => void;
}) {
  const parent = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);
  const focused = useRef<string | null>(null);
  const [flash, setFlash] = useState<string | null>(null);
  const virtualizer = useVirtualizer({
    count: items.length,
    getScrollElement: () => parent.current,
    estimateSize: () => 72,
    overscan: 12,
    getItemKey: (i) => items[i]!.key,
  });

  useEffect(() => {
    const el = parent.current;
    if (!el) return;
    const onScroll = () => {
      atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 80;
    };
    el.addEventListener("scroll", onScroll, { passive: true });
    return () => el.removeEventListener("scroll", onScroll);
  }, []);

  const focusRef = useRef(focus);
  focusRef.current = focus;
  useLayoutEffect(() => {
    if (focusRef.current || hold) return;
    if (atBottom.current && items.length > 0) virtualizer.scrollToIndex(items.length - 1, { align: "end" });
  }, [items.length, virtualizer, hold]);

  // The row asked for, as soon as it is among the rows (once per request).
  useLayoutEffect(() => {
    if (!focus || focused.current === focus.id) return;
    const index = items.findIndex((i) => i.key === focus.key);
    if (index < 0) return;
    focused.current = focus.id;
    atBottom.current = false;
    virtualizer.scrollToIndex(index, { align: "center" });
    setFlash(focus.key);
    onFocused?.(focus.id);
  }, [focus, items, virtualizer, onFocused]);

  useEffect(() => {
    if (!flash) return;
    const t = setTimeout(() => setFlash(null), FLASH_MS);
    return () => clearTimeout(t);
  }, [flash]);

  return (
    <div ref={parent} className="conversation" data-testid="conversation">
      <div style={{ height: virtualizer.getTotalSize(), position: "relative", width: "100%" }}>
        {virtualizer.getVirtualItems().map((v) => {
          const key = items[v.index]!.key;
          return (
            <div
              key={v.key}
              ref={virtualizer.measureElement}
              data-index={v.index}
              data-key={key}
              className={flash === key ? "row row-flash" : "row"}
              data-focused={flash === key ? "true" : undefined}
              style={{ position: "absolute", top: 0, left: 0, width: "100%", transform: `translateY(${v.start}px)` }}
            >
              <MemoRow item={items[v.index]!} onRetry={onRetry} />
            </div>
          );
        })}
      </div>
    </div>
  );
}

const MemoRow = memo(ItemRow);
