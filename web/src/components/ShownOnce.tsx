"use client";
// A value the server hands out once (a new API token, an invite or a password reset link): shown
// read-only with a Copy button and the warning that it cannot be shown again.
import { useRef, useState } from "react";
import { useTranslations } from "next-intl";

export function ShownOnce({
  title,
  value,
  warning,
  children,
  onDone,
  testId,
}: {
  title: string;
  value: string;
  warning: string;
  children?: React.ReactNode;
  onDone: () => void;
  testId?: string;
}) {
  const input = useRef<HTMLInputElement>(null);
  const [copied, setCopied] = useState<"yes" | "failed" | null>(null);
  const t = useTranslations("tools.shownOnce");
  const tr = useTranslations();

  const copy = async () => {
    const ok = await copyText(value, input.current);
    setCopied(ok ? "yes" : "failed");
  };

  return (
    <div className="shown-once" role="region" aria-label={title} data-testid={testId}>
      <strong>{title}</strong>
      <p className="warn small">{warning}</p>
      {children}
      <div className="copy-row">
        <input ref={input} readOnly value={value} className="mono" aria-label={title} onFocus={(e) => e.currentTarget.select()} spellCheck={false} />
        <button className="button" type="button" onClick={() => void copy()}>
          {copied === "yes" ? tr("common.actions.copied") : tr("common.actions.copy")}
        </button>
      </div>
      {copied === "failed" && <p className="error small">{t("copyFailed")}</p>}
      <div className="form-actions">
        <button className="button" type="button" onClick={onDone}>
          {tr("common.actions.done")}
        </button>
      </div>
    </div>
  );
}

/** Copies `text`: the Clipboard API where the page may use it (a secure context), else the
 * selected field and the older `execCommand`. */
async function copyText(text: string, field: HTMLInputElement | null): Promise<boolean> {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    // fall back below
  }
  if (!field) return false;
  field.focus();
  field.select();
  try {
    return document.execCommand("copy");
  } catch {
    return false;
  }
}
