// Syntax highlighting with highlight.js's core and a handful of languages (the full bundle is
// ~900 kB). Its output escapes the code, so it is safe to insert as HTML.
import hljs from "highlight.js/lib/core";
import bash from "highlight.js/lib/languages/bash";
import css from "highlight.js/lib/languages/css";
import go from "highlight.js/lib/languages/go";
import javascript from "highlight.js/lib/languages/javascript";
import json from "highlight.js/lib/languages/json";
import markdown from "highlight.js/lib/languages/markdown";
import python from "highlight.js/lib/languages/python";
import rust from "highlight.js/lib/languages/rust";
import sql from "highlight.js/lib/languages/sql";
import typescript from "highlight.js/lib/languages/typescript";
import xml from "highlight.js/lib/languages/xml";
import yaml from "highlight.js/lib/languages/yaml";

const LANGS = { bash, css, go, javascript, json, markdown, python, rust, sql, typescript, xml, yaml };
for (const [name, lang] of Object.entries(LANGS)) hljs.registerLanguage(name, lang);

const BY_EXTENSION: Record<string, string> = {
  sh: "bash", bash: "bash", zsh: "bash", css: "css", go: "go", js: "javascript", mjs: "javascript",
  cjs: "javascript", jsx: "javascript", json: "json", md: "markdown", py: "python", rs: "rust",
  sql: "sql", ts: "typescript", tsx: "typescript", html: "xml", htm: "xml", xml: "xml", svg: "xml",
  yml: "yaml", yaml: "yaml", toml: "yaml",
};

export function languageFor(path: string): string | null {
  const ext = path.split(".").pop()?.toLowerCase() ?? "";
  return BY_EXTENSION[ext] ?? null;
}

/** Highlighted HTML for `code`; plain escaped text when the language is unknown or it is huge. */
export function highlight(code: string, language: string | null): string {
  if (code.length > 200_000) return escapeHtml(code);
  if (language && hljs.getLanguage(language)) return hljs.highlight(code, { language, ignoreIllegals: true }).value;
  return escapeHtml(code);
}

export function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}
