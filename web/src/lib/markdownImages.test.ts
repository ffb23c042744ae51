import { describe, expect, it } from "vitest";
import { defaultUrlTransform } from "react-markdown";
import { classifyImage, markdownUrlTransform, resolveRelative } from "./markdownImages";

describe("classifyImage", () => {
  it("holds back every spelling of a remote URL", () => {
    for (const src of [
      "https://evil.example/p.png?secret=1",
      "http://evil.example/p.png",
      "HTTPS://EVIL.EXAMPLE/p.png",
      "  https://evil.example/p.png  ",
      "//evil.example/p.png",
      "\\\\evil.example/p.png",
      "/\\evil.example/p.png",
      "ht\ttps://evil.example/p.png",
    ]) {
      const c = classifyImage(src);
      expect(c.kind, src).toBe("remote");
      if (c.kind === "remote") expect(c.host.toLowerCase()).toBe("evil.example");
    }
    expect(classifyImage("https://evil.example:8443/x")).toMatchObject({ kind: "remote", host: "evil.example:8443" });
  });

  it("lets inline data images through, nothing else of data:", () => {
    expect(classifyImage("data:image/png;base64,iVBORw0KGgo=")).toEqual({ kind: "data", url: "data:image/png;base64,iVBORw0KGgo=" });
    expect(classifyImage("data:image/svg+xml,<svg/>").kind).toBe("data");
    expect(classifyImage("data:text/html,<script>1</script>").kind).toBe("blocked");
    expect(classifyImage("data:,x").kind).toBe("blocked");
  });

  it("keeps workspace paths relative and drops the rest", () => {
    expect(classifyImage("chart.png")).toEqual({ kind: "relative", path: "chart.png" });
    expect(classifyImage("./img/a%20b.png?x=1")).toEqual({ kind: "relative", path: "./img/a b.png" });
    expect(classifyImage("/etc/passwd").kind).toBe("blocked");
    expect(classifyImage("javascript:alert(1)").kind).toBe("blocked");
    expect(classifyImage("file:///etc/passwd").kind).toBe("blocked");
    expect(classifyImage("blob:https://x/1").kind).toBe("blocked");
    expect(classifyImage("https://user:pw@evil.example/").kind).toBe("blocked");
    expect(classifyImage("").kind).toBe("blocked");
    expect(classifyImage(undefined).kind).toBe("blocked");
  });
});

describe("resolveRelative", () => {
  it("resolves against the Markdown file's folder, never above the workspace", () => {
    expect(resolveRelative("docs/README.md", "img/a.png")).toBe("docs/img/a.png");
    expect(resolveRelative("docs/README.md", "./a.png")).toBe("docs/a.png");
    expect(resolveRelative("docs/README.md", "../a.png")).toBe("a.png");
    expect(resolveRelative("README.md", "a.png")).toBe("a.png");
    expect(resolveRelative("README.md", "../a.png")).toBeNull();
  });
});

describe("markdownUrlTransform", () => {
  it("keeps data images, and otherwise react-markdown's own rules", () => {
    expect(markdownUrlTransform("data:image/png;base64,AA", "src", defaultUrlTransform)).toBe("data:image/png;base64,AA");
    expect(markdownUrlTransform("data:image/png;base64,AA", "href", defaultUrlTransform)).toBe("");
    expect(markdownUrlTransform("javascript:alert(1)", "href", defaultUrlTransform)).toBe("");
    expect(markdownUrlTransform("https://x.example/", "href", defaultUrlTransform)).toBe("https://x.example/");
  });
});
