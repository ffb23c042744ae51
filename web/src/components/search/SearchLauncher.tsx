"use client";
// The top bar's search button and the page-wide shortcut (Ctrl+K, ⌘K on a Mac) that open the
// search dialog.
import { useTranslations } from "next-intl";
import { usePathname } from "next/navigation";
import { useEffect, useState } from "react";
import { SearchDialog } from "./SearchDialog";

/** Ctrl+K, or ⌘K on a Mac (either works anywhere). */
export function isSearchShortcut(e: Pick<KeyboardEvent, "key" | "ctrlKey" | "metaKey" | "altKey" | "shiftKey">): boolean {
  return (e.ctrlKey || e.metaKey) && !e.altKey && !e.shiftKey && e.key.toLowerCase() === "k";
}

export function SearchLauncher() {
  const t = useTranslations("search.launcher");
  const [open, setOpen] = useState(false);
  const [mac, setMac] = useState(false);
  const pathname = usePathname();

  useEffect(() => {
    setMac(/Mac|iPhone|iPad/.test(navigator.platform || navigator.userAgent));
    const onKey = (e: KeyboardEvent) => {
      if (!isSearchShortcut(e)) return;
      e.preventDefault();
      setOpen((o) => !o);
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);

  // A page change (a hit opened, a link followed) closes it.
  useEffect(() => setOpen(false), [pathname]);

  const shortcut = mac ? "⌘K" : "Ctrl+K";
  return (
    <>
      <button
        type="button"
        className="search-button"
        onClick={() => setOpen(true)}
        aria-label={t("label", { shortcut })}
        aria-haspopup="dialog"
        aria-expanded={open}
        title={t("label", { shortcut })}
        data-testid="search-open"
      >
        <span aria-hidden>⌕</span>
        <span className="search-button-text">{t("text")}</span>
        <kbd className="search-button-key" aria-hidden>
          {shortcut}
        </kbd>
      </button>
      {open && <SearchDialog onClose={() => setOpen(false)} />}
    </>
  );
}
