"use client";
// Switches the UI's language: saves the choice in a cookie and re-renders with the server's
// messages for it (no reload, the page's state is kept).
import { useLocale, useTranslations } from "next-intl";
import { useRouter } from "next/navigation";
import { useTransition } from "react";
import { isLocale, LOCALE_COOKIE, LOCALES } from "./locale";

export function LanguagePicker() {
  const t = useTranslations("common.language");
  const locale = useLocale();
  const router = useRouter();
  const [pending, startTransition] = useTransition();
  const choose = (next: string) => {
    if (!isLocale(next) || next === locale) return;
    document.cookie = `${LOCALE_COOKIE}=${next}; path=/; max-age=31536000; samesite=lax`;
    document.documentElement.lang = next;
    startTransition(() => router.refresh());
  };
  return (
    <select
      className="language-picker"
      aria-label={t("label")}
      title={t("label")}
      value={locale}
      disabled={pending}
      onChange={(e) => choose(e.target.value)}
      data-testid="language-picker"
    >
      {LOCALES.map((l) => (
        <option key={l} value={l}>
          {t(l)}
        </option>
      ))}
    </select>
  );
}
