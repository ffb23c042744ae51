"use client";
// The conversation as a virtualized list: only the rows near the viewport are in the DOM, so a
// session with thousands of events stays responsive. It follows the bottom while the reader is
// there and stays put when they scroll up.
import { memo, useEffect, useLayoutEffect, useRef } from "react";
import { useVirtualizer } from "@tanstack/react-virtual";
import type { Item } from "@/lib/conversation";
import { ItemRow } from "./ItemRow";

export function Conversation({ items, onRetry }: { items: Item[]; onRetry: (runId: string) => void }) {
  const parent = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);
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

  useLayoutEffect(() => {
    if (atBottom.current && items.length > 0) virtualizer.scrollToIndex(items.length - 1, { align: "end" });
  }, [items.length, virtualizer]);

  return (
    <div ref={parent} className="conversation" data-testid="conversation">
      <div style={{ height: virtualizer.getTotalSize(), position: "relative", width: "100%" }}>
        {virtualizer.getVirtualItems().map((v) => (
          <div
            key={v.key}
            ref={virtualizer.measureElement}
            data-index={v.index}
            data-key={items[v.index]!.key}
            className="row"
            style={{ position: "absolute", top: 0, left: 0, width: "100%", transform: `translateY(${v.start}px)` }}
          >
            <MemoRow item={items[v.index]!} onRetry={onRetry} />
          </div>
        ))}
      </div>
    </div>
  );
}

const MemoRow = memo(ItemRow);
