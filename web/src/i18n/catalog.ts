// Every message of the UI, by locale and namespace. A namespace is one JSON file per language in
// web/messages/<locale>/<namespace>.json, imported here; `catalog.test.ts` fails when a file,
// a key or a placeholder exists in one language only, or a file is not listed here.
//
// To add a namespace: write messages/en/<ns>.json and messages/zh/<ns>.json, then add one line
// to each of the two objects below.
import type { Locale } from "./locale";

import enCommon from "../../messages/en/common.json";
import zhCommon from "../../messages/zh/common.json";

export type Messages = Record<string, Record<string, unknown>>;

export const CATALOG: Record<Locale, Messages> = {
  en: {
    common: enCommon,
  },
  zh: {
    common: zhCommon,
  },
};

export function messagesFor(locale: Locale): Messages {
  return CATALOG[locale];
}
