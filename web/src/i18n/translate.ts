// Messages outside React: the helpers of src/lib/*.ts that put words on the screen take a
// translator, `t` from `useTranslations()` (no namespace: keys are full paths such as
// `errors.network`), and fall back to English when called without one (tests, other call sites).
import { createFormatter, createTranslator, type AbstractIntlMessages } from "next-intl";

/** A translator over the whole catalog (`useTranslations()` without a namespace). */
export type Translate = (key: string, values?: Record<string, string | number | Date>) => string;

/** The date and number formatting of `useFormatter()` that helpers use. */
export type Format = Pick<ReturnType<typeof createFormatter>, "dateTime" | "number">;

/** An English translator over `messages` (a helper's default), built on first use. */
export function english(messages: AbstractIntlMessages): Translate {
  let t: Translate | null = null;
  return (key, values) => {
    t ??= createTranslator({ locale: "en", messages }) as unknown as Translate;
    return t(key, values);
  };
}
