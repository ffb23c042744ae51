import { memo } from "react";
import ReactMarkdown from "react-markdown";
import { Code } from "./Code";

// react-markdown builds React elements (raw HTML in the text is shown as text, and unsafe link
// protocols are dropped), so model output cannot inject markup.
export const Markdown = memo(function Markdown({ text }: { text: string }) {
  return (
    <div className="markdown">
      <ReactMarkdown
        components={{
          a: ({ href, children }) => (
            <a href={href} target="_blank" rel="noopener noreferrer nofollow">
              {children}
            </a>
          ),
          pre: ({ children }) => <>{children}</>,
          code: ({ className, children }) => {
            const text = String(children ?? "");
            const lang = /language-(\w+)/.exec(className ?? "")?.[1] ?? null;
            if (!className && !text.includes("\n")) return <code>{children}</code>;
            return <Code code={text.replace(/\n$/, "")} language={lang} />;
          },
        }}
      >
        {text}
      </ReactMarkdown>
    </div>
  );
});
