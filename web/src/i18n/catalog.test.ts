// The two languages carry the same messages: a key, a namespace file or an ICU argument that
// exists in one language only fails here.
import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { CATALOG } from "./catalog";
import { LOCALES, pickLocale } from "./locale";

type Tree = { [key: string]: unknown };

/** Every leaf of a message tree as `a.b.c` → message. */
function leaves(tree: Tree, prefix = ""): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of Object.entries(tree)) {
    const path = prefix ? `${prefix}.${k}` : k;
    if (typeof v === "string") out.set(path, v);
    else if (v && typeof v === "object") for (const [p, m] of leaves(v as Tree, path)) out.set(p, m);
    else throw new Error(`${path}: a message must be a string or an object, not ${typeof v}`);
  }
  return out;
}

/** The names of a message's ICU arguments (`{name}`, `{count, plural, …}`), sorted. */
function argumentsOf(message: string): string[] {
  const names = new Set<string>();
  for (const m of message.matchAll(/\{\s*([A-Za-z_][\w]*)\s*(?:[,}])/g)) names.add(m[1]!);
  // Plural/select branch labels (`one {…}`) are not arguments: only names right after `{` count.
  return [...names].sort();
}

describe("message catalog", () => {
  const en = leaves(CATALOG.en as Tree);

  for (const locale of LOCALES) {
    it(`${locale} has exactly the keys of en`, () => {
      const other = leaves(CATALOG[locale] as Tree);
      const missing = [...en.keys()].filter((k) => !other.has(k));
      const extra = [...other.keys()].filter((k) => !en.has(k));
      expect({ missing, extra }).toEqual({ missing: [], extra: [] });
    });

    it(`${locale} messages use the same arguments as en`, () => {
      const other = leaves(CATALOG[locale] as Tree);
      const differing = [...en]
        .filter(([k, m]) => other.has(k) && argumentsOf(m).join() !== argumentsOf(other.get(k)!).join())
        .map(([k]) => k);
      expect(differing).toEqual([]);
    });

    it(`${locale} has no empty message`, () => {
      const empty = [...leaves(CATALOG[locale] as Tree)].filter(([, m]) => m.trim() === "").map(([k]) => k);
      expect(empty).toEqual([]);
    });

    it(`every messages/${locale} file is in the catalog`, () => {
      const dir = fileURLToPath(new URL(`../../messages/${locale}/`, import.meta.url));
      const files = readdirSync(dir)
        .filter((f) => f.endsWith(".json"))
        .map((f) => f.replace(/\.json$/, ""))
        .sort();
      expect(files).toEqual(Object.keys(CATALOG[locale]).sort());
    });
  }
});

describe("pickLocale", () => {
  it("prefers the saved choice", () => {
    expect(pickLocale("zh", "en-US,en;q=0.9")).toBe("zh");
    expect(pickLocale("en", "zh-CN")).toBe("en");
  });
  it("ignores a cookie naming no language of ours", () => {
    expect(pickLocale("fr", "zh-CN,zh;q=0.9")).toBe("zh");
  });
  it("reads Accept-Language by weight", () => {
    expect(pickLocale(undefined, "fr;q=0.9,zh-Hans-CN;q=0.8,en;q=0.7")).toBe("zh");
    expect(pickLocale(undefined, "en;q=0.5,zh-TW;q=0.9")).toBe("zh");
    expect(pickLocale(undefined, "de,fr")).toBe("en");
    expect(pickLocale(undefined, "zh;q=0,en")).toBe("en");
    expect(pickLocale(undefined, "")).toBe("en");
    expect(pickLocale(null, null)).toBe("en");
  });
});
