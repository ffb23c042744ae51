import { describe, expect, it } from "vitest";
import { HTML_PREVIEW_CSP, sandboxedSrcDoc } from "./htmlPreview";

describe("sandboxedSrcDoc", () => {
  it("puts a policy without any remote source before the file", () => {
    const doc = sandboxedSrcDoc('<!doctype html><img src="https://evil.example/x">');
    expect(doc.startsWith('<meta http-equiv="Content-Security-Policy"')).toBe(true);
    expect(doc.indexOf("<!doctype html>")).toBeGreaterThan(doc.indexOf(HTML_PREVIEW_CSP));
    expect(HTML_PREVIEW_CSP).toContain("default-src 'none'");
    expect(HTML_PREVIEW_CSP).not.toMatch(/https?:|\*/);
  });
});
