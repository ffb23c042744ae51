// The HTML preview: the file's text in an iframe's `srcdoc` with `sandbox=""` (no scripts, no
// forms, an opaque origin). A srcdoc document inherits the page's CSP, which allows https images
// (for clicked Markdown images): the preview adds its own, stricter policy in front of the file, so
// an agent's page cannot call out to any server (no remote images, styles, fonts or frames).
export const HTML_PREVIEW_CSP =
  "default-src 'none'; img-src data: blob:; style-src 'unsafe-inline'; font-src data:; media-src data: blob:; form-action 'none'";

export function sandboxedSrcDoc(html: string): string {
  return `<meta http-equiv="Content-Security-Policy" content="${HTML_PREVIEW_CSP}">${html}`;
}
