"use client";
// `readableError` in the UI's language: `const readable = useReadableError(); setError(readable(e))`,
// or `readable(error)` while rendering. The function keeps its identity (safe in effects'
// dependencies: a language switch does not re-run them) and always speaks the language of the
// latest render.
import { useTranslations } from "next-intl";
import { useCallback, useRef } from "react";
import { readableError } from "./api";

export function useReadableError(): (e: unknown) => string {
  const t = useTranslations();
  const latest = useRef(t);
  // Written while rendering on purpose: a call during this same render must already use it.
  latest.current = t;
  return useCallback((e: unknown) => readableError(e, latest.current), []);
}
