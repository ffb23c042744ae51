"use client";
// The client side of next-intl: the locale and messages the server picked, and the reader's own
// time zone for dates (the server renders in UTC; pages fetch their data after mounting, so dates
// are formatted in the browser).
import { NextIntlClientProvider, type AbstractIntlMessages } from "next-intl";
import { useState } from "react";
import type { Locale } from "./locale";

function browserTimeZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  } catch {
    return "UTC";
  }
}

export function I18nProvider({
  locale,
  messages,
  children,
}: {
  locale: Locale;
  messages: AbstractIntlMessages;
  children: React.ReactNode;
}) {
  const [timeZone] = useState(() => (typeof window === "undefined" ? "UTC" : browserTimeZone()));
  return (
    <NextIntlClientProvider locale={locale} messages={messages} timeZone={timeZone}>
      {children}
    </NextIntlClientProvider>
  );
}
