// next-intl's per-request configuration (wired in next.config.ts): the locale from the cookie or
// `Accept-Language`, and its messages. No locale in the URL: links stay the same in every language.
import { cookies, headers } from "next/headers";
import { getRequestConfig } from "next-intl/server";
import { messagesFor } from "./catalog";
import { LOCALE_COOKIE, pickLocale } from "./locale";

export default getRequestConfig(async () => {
  const locale = pickLocale((await cookies()).get(LOCALE_COOKIE)?.value, (await headers()).get("accept-language"));
  return { locale, messages: messagesFor(locale), timeZone: "UTC" };
});
