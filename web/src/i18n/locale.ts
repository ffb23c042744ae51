// The UI's languages and how one is picked: the reader's saved choice (a cookie the language
// picker sets), else the browser's `Accept-Language` preference, else English.

export const LOCALES = ["en", "zh"] as const;
export type Locale = (typeof LOCALES)[number];
export const DEFAULT_LOCALE: Locale = "en";
/** The cookie the language picker writes (a year, path `/`, readable by the server). */
export const LOCALE_COOKIE = "workcell-locale";

export function isLocale(v: unknown): v is Locale {
  return typeof v === "string" && (LOCALES as readonly string[]).includes(v);
}

/** The locale of a language tag: `zh`, `zh-CN`, `zh-Hans-SG`… read as Simplified Chinese. */
function fromTag(tag: string): Locale | null {
  const primary = tag.trim().toLowerCase().split("-")[0];
  return isLocale(primary) ? primary : null;
}

/** The best locale for a request: the cookie when it names one, else the highest-weighted
 * supported language of `Accept-Language` (RFC 9110 quality values), else English. */
export function pickLocale(cookie: string | undefined | null, acceptLanguage: string | undefined | null): Locale {
  if (isLocale(cookie)) return cookie;
  if (!acceptLanguage) return DEFAULT_LOCALE;
  const ranked = acceptLanguage
    .split(",")
    .map((part, index) => {
      const [tag = "", ...params] = part.split(";");
      const q = params.map((p) => p.trim()).find((p) => p.startsWith("q="));
      const weight = q ? Number(q.slice(2)) : 1;
      return { tag, weight: Number.isFinite(weight) ? weight : 0, index };
    })
    .filter((x) => x.weight > 0)
    .sort((a, b) => b.weight - a.weight || a.index - b.index);
  for (const { tag } of ranked) {
    const locale = fromTag(tag);
    if (locale) return locale;
  }
  return DEFAULT_LOCALE;
}
