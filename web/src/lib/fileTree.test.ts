import { describe, expect, it } from "vitest";
import type { RunFile } from "@/generated/protocol";
import { buildTree, previewKind } from "./fileTree";

const file = (path: string): RunFile => ({ path, size: 1, sha256: "x", content_type: "text/plain", change: "added", url: "u" });

describe("file tree", () => {
  it("nests paths into folders, folders first, sorted", () => {
    const root = buildTree([file("b.txt"), file("src/z.rs"), file("src/a/b.rs"), file("a.txt")]);
    expect(root.children.map((c) => c.name)).toEqual(["src", "a.txt", "b.txt"]);
    const src = root.children[0]!;
    expect(src.children.map((c) => c.name)).toEqual(["a", "z.rs"]);
    expect(src.children[0]!.children[0]!.file?.path).toBe("src/a/b.rs");
  });

  it("chooses a preview by extension and content type", () => {
    expect(previewKind("README.md", "text/plain")).toBe("markdown");
    expect(previewKind("index.html", "application/octet-stream")).toBe("html");
    expect(previewKind("doc.pdf", "application/octet-stream")).toBe("pdf");
    expect(previewKind("pic.png", "image/png")).toBe("image");
    expect(previewKind("main.rs", "application/octet-stream")).toBe("text");
    expect(previewKind("Makefile", "application/octet-stream")).toBe("text");
    expect(previewKind("blob.bin", "application/octet-stream")).toBe("none");
    expect(previewKind("data/table.csv", "application/octet-stream")).toBe("csv");
    expect(previewKind("table.tsv", "text/plain")).toBe("csv");
    expect(previewKind("export", "text/csv")).toBe("csv");
  });
});
