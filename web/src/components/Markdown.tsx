import { memo, useMemo } from "react";
import ReactMarkdown, { defaultUrlTransform, type Components } from "react-markdown";
import remarkGfm from "remark-gfm";
import { useTranslations } from "next-intl";
import { classifyImage, markdownUrlTransform } from "@/lib/markdownImages";
import { Code } from "./Code";
import { RemoteImage } from "./RemoteImage";

const PLUGINS = [remarkGfm];
const urlTransform = (value: string, key: string) => markdownUrlTransform(value, key, defaultUrlTransform);

// react-markdown builds React elements (raw HTML in the text is shown as text, and unsafe link
// protocols are dropped), so model output cannot inject markup. GitHub's flavour (tables, task
// lists, strikethrough, autolinks, footnotes) through remark-gfm. Images: see lib/markdownImages.ts
// — remote ones wait for a click; `resolveImage` maps a relative path to a URL (the files preview
// shows a run's own images that way), otherwise relative images are not loaded.
export const Markdown = memo(function Markdown({
  text,
  resolveImage,
}: {
  text: string;
  resolveImage?: (path: string) => string | null;
}) {
  const t = useTranslations("files.markdown");
  const components = useMemo<Components>(
    () => ({
      a: ({ href, children }) => (
        <a href={href} target="_blank" rel="noopener noreferrer nofollow">
          {children}
        </a>
      ),
      img: ({ src, alt, title }) => {
        const c = classifyImage(src);
        const altText = alt ?? "";
        if (c.kind === "remote") return <RemoteImage url={c.url} host={c.host} alt={altText} title={title} />;
        // eslint-disable-next-line @next/next/no-img-element
        if (c.kind === "data") return <img src={c.url} alt={altText} title={title} />;
        const resolved = c.kind === "relative" && resolveImage ? resolveImage(c.path) : null;
        // eslint-disable-next-line @next/next/no-img-element
        if (resolved) return <img src={resolved} alt={altText} title={title} referrerPolicy="no-referrer" />;
        return <span className="image-hidden muted">{t("imageNotShown", { alt: altText || "—" })}</span>;
      },
      table: ({ children }) => (
        <div className="md-table-wrap">
          <table>{children}</table>
        </div>
      ),
      pre: ({ children }) => <>{children}</>,
      code: ({ className, children }) => {
        const text = String(children ?? "");
        const lang = /language-(\w+)/.exec(className ?? "")?.[1] ?? null;
        if (!className && !text.includes("\n")) return <code>{children}</code>;
        return <Code code={text.replace(/\n$/, "")} language={lang} />;
      },
    }),
    [resolveImage, t],
  );
  return (
    <div className="markdown">
      <ReactMarkdown remarkPlugins={PLUGINS} urlTransform={urlTransform} components={components}>
        {text}
      </ReactMarkdown>
    </div>
  );
});
