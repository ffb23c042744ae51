import { memo, useMemo } from "react";
import { highlight } from "@/lib/highlight";

export const Code = memo(function Code({ code, language }: { code: string; language: string | null }) {
  const html = useMemo(() => highlight(code, language), [code, language]);
  return (
    <pre className="code hljs">
      <code dangerouslySetInnerHTML={{ __html: html }} />
    </pre>
  );
});
