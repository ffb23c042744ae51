"use client";
// An image of agent-written Markdown whose URL points at another server: a placeholder naming the
// host until the reader clicks it (an image URL can carry anything the agent read to a server it
// chose). Once loaded it is sent without a Referer.
import { useState } from "react";
import { useTranslations } from "next-intl";

export function RemoteImage({ url, host, alt, title }: { url: string; host: string; alt: string; title?: string }) {
  const t = useTranslations("files.markdown");
  const [shown, setShown] = useState(false);
  if (shown) {
    // eslint-disable-next-line @next/next/no-img-element
    return <img src={url} alt={alt} title={title} referrerPolicy="no-referrer" loading="lazy" />;
  }
  return (
    <button
      type="button"
      className="remote-image"
      onClick={() => setShown(true)}
      title={url}
      data-testid="remote-image"
    >
      <svg className="remote-image-icon" viewBox="0 0 24 24" width="22" height="22" aria-hidden="true">
        <rect x="3" y="4" width="18" height="16" rx="2" fill="none" stroke="currentColor" strokeWidth="1.6" />
        <circle cx="9" cy="9.5" r="1.8" fill="currentColor" />
        <path d="M4 18l5.5-5.5 3.5 3.5 2.5-2.5L20 18" fill="none" stroke="currentColor" strokeWidth="1.6" strokeLinejoin="round" />
      </svg>
      <span>
        <span className="remote-image-action">{t("loadImage", { host })}</span>
        {alt && <span className="remote-image-alt">{alt}</span>}
      </span>
    </button>
  );
}
