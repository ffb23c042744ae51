// What an image in agent-written Markdown may do. A remote image (http:, https:, or
// protocol-relative `//host/…`) is a request to a server the agent chose, with whatever the agent
// put in its URL: it is shown as a placeholder naming the host until the reader clicks it.
// `data:image/…` images are inline and load no URL, so they render. A relative path means a file
// of the run: the files preview resolves it to the file's presigned URL; elsewhere it is not
// loaded. Anything else (javascript:, file:, blob:, other data:) is dropped.

export type ImageSource =
  | { kind: "remote"; url: string; host: string }
  | { kind: "data"; url: string }
  | { kind: "relative"; path: string }
  | { kind: "blocked" };

const BASE = "https://relative.invalid/";

export function classifyImage(src: unknown): ImageSource {
  if (typeof src !== "string") return { kind: "blocked" };
  const trimmed = src.trim();
  if (trimmed === "") return { kind: "blocked" };
  if (/^data:/i.test(trimmed)) {
    return /^data:image\/[a-z0-9.+-]+[;,]/i.test(trimmed) ? { kind: "data", url: trimmed } : { kind: "blocked" };
  }
  let u: URL;
  try {
    // Parsed as a browser would (tabs and newlines dropped, `\` as `/`), against a stand-in base
    // so that a path and a protocol-relative URL tell themselves apart.
    u = new URL(trimmed, BASE);
  } catch {
    return { kind: "blocked" };
  }
  if (u.protocol === "http:" || u.protocol === "https:") {
    if (u.origin === new URL(BASE).origin) {
      // Anchored at the page's root (`/x`) is not a workspace path either: not loaded.
      if (/^[/\\]/.test(trimmed)) return { kind: "blocked" };
      return { kind: "relative", path: decodeSafe(trimmed.split(/[?#]/)[0] ?? "") };
    }
    if (u.username || u.password) return { kind: "blocked" };
    return { kind: "remote", url: u.href, host: u.host };
  }
  return { kind: "blocked" };
}

function decodeSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** A workspace path relative to the Markdown file at `from` (`./a.png`, `../img/b.png`, `c.png`),
 * `/`-separated without `.`/`..`; null when it climbs out of the workspace. */
export function resolveRelative(from: string, path: string): string | null {
  const dir = from.split("/").slice(0, -1);
  const out = [...dir];
  for (const seg of path.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") {
      if (out.length === 0) return null;
      out.pop();
    } else out.push(seg);
  }
  return out.length ? out.join("/") : null;
}

/** react-markdown's `urlTransform`: its default rules, except that an image may be `data:image/…`. */
export function markdownUrlTransform(value: string, key: string, defaultTransform: (v: string) => string): string {
  if (key === "src" && /^\s*data:image\//i.test(value)) return value;
  return defaultTransform(value);
}
