// The manifest's flat list of paths as a tree of folders, folders first, each level sorted.
import type { RunFile } from "@/generated/protocol";

export interface TreeNode {
  name: string;
  path: string;
  file?: RunFile;
  children: TreeNode[];
}

export function buildTree(files: RunFile[]): TreeNode {
  const root: TreeNode = { name: "", path: "", children: [] };
  const dirs = new Map<string, TreeNode>([["", root]]);
  const dir = (path: string): TreeNode => {
    const found = dirs.get(path);
    if (found) return found;
    const cut = path.lastIndexOf("/");
    const parent = dir(cut < 0 ? "" : path.slice(0, cut));
    const node: TreeNode = { name: path.slice(cut + 1), path, children: [] };
    parent.children.push(node);
    dirs.set(path, node);
    return node;
  };
  for (const f of files) {
    const clean = f.path.split("/").filter(Boolean).join("/");
    const cut = clean.lastIndexOf("/");
    dir(cut < 0 ? "" : clean.slice(0, cut)).children.push({ name: clean.slice(cut + 1), path: clean, file: f, children: [] });
  }
  const sort = (n: TreeNode) => {
    n.children.sort((a, b) => Number(!!a.file) - Number(!!b.file) || a.name.localeCompare(b.name));
    n.children.forEach(sort);
  };
  sort(root);
  return root;
}

export type PreviewKind = "image" | "pdf" | "html" | "markdown" | "csv" | "text" | "none";

const TEXT_EXT = new Set([
  "txt", "log", "csv", "tsv", "json", "js", "mjs", "cjs", "ts", "tsx", "jsx", "py", "rs", "go", "java", "c", "h",
  "cpp", "hpp", "rb", "php", "sh", "bash", "zsh", "toml", "yaml", "yml", "ini", "cfg", "css", "scss", "sql", "xml",
  "svg", "env", "gitignore", "dockerfile", "makefile", "lock",
]);

export function previewKind(path: string, contentType: string): PreviewKind {
  const ext = path.split(".").pop()?.toLowerCase() ?? "";
  const ct = contentType.toLowerCase();
  if (ext === "md" || ext === "markdown" || ct.startsWith("text/markdown")) return "markdown";
  if (ext === "html" || ext === "htm" || ct.startsWith("text/html")) return "html";
  if (ext === "pdf" || ct === "application/pdf") return "pdf";
  if (ct.startsWith("image/") && ext !== "svg") return "image";
  if (ext === "csv" || ext === "tsv" || ct.startsWith("text/csv") || ct.startsWith("text/tab-separated-values")) return "csv";
  if (ct.startsWith("text/") || ct === "application/json" || TEXT_EXT.has(ext) || !path.includes(".")) return "text";
  return "none";
}
