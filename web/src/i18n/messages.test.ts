// Every message of both languages is valid ICU and formats with its arguments and tags: a stray
// brace, an apostrophe that quotes, or a broken plural fails here rather than on a screen.
import { createTranslator } from "next-intl";
import { describe, expect, it } from "vitest";
import { CATALOG } from "./catalog";
import { LOCALES } from "./locale";

type Tree = { [key: string]: unknown };

function keys(tree: Tree, prefix = ""): string[] {
  return Object.entries(tree).flatMap(([k, v]) => {
    const path = prefix ? `${prefix}.${k}` : k;
    return typeof v === "string" ? [path] : keys(v as Tree, path);
  });
}

function messageAt(tree: Tree, path: string): string {
  return path.split(".").reduce<unknown>((node, k) => (node as Tree)[k], tree) as string;
}

describe("messages", () => {
  for (const locale of LOCALES) {
    it(`${locale}: every message formats`, () => {
      const failures: string[] = [];
      const t = createTranslator({
        locale,
        messages: CATALOG[locale],
        onError: (e) => failures.push(e.message),
      });
      for (const key of keys(CATALOG[locale] as Tree)) {
        const message = messageAt(CATALOG[locale] as Tree, key);
        const values: Record<string, string | number | ((chunks: string) => string)> = {};
        for (const m of message.matchAll(/\{\s*([A-Za-z_]\w*)\s*[,}]/g)) values[m[1]!] = 2;
        for (const m of message.matchAll(/<([A-Za-z_]\w*)>/g)) values[m[1]!] = (chunks: string) => chunks;
        const out = (t.markup as (key: string, values: unknown) => string)(key, values);
        // No message shows a brace of its own (an apostrophe before one would quote it).
        if (out === key || /[{}]/.test(out)) failures.push(`${key}: ${out}`);
      }
      expect(failures).toEqual([]);
    });
  }
});
