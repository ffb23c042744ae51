import type { Metadata, Viewport } from "next";
import { headers } from "next/headers";
import { getLocale, getMessages } from "next-intl/server";
import { QueryProvider } from "@/components/QueryProvider";
import { Shell } from "@/components/Shell";
import { I18nProvider } from "@/i18n/I18nProvider";
import { isLocale, DEFAULT_LOCALE } from "@/i18n/locale";
import "highlight.js/styles/github.css";
import "./globals.css";

export const metadata: Metadata = { title: "Workcell", description: "Agent tasks, live" };
export const viewport: Viewport = { width: "device-width", initialScale: 1 };

// Sets the theme before the first paint (saved choice, else the system's), so there is no flash.
const themeScript = `try{var t=localStorage.getItem("theme");if(t!=="light"&&t!=="dark"){t=matchMedia("(prefers-color-scheme: dark)").matches?"dark":"light"}document.documentElement.dataset.theme=t}catch(e){}`;

export default async function RootLayout({ children }: { children: React.ReactNode }) {
  const picked = await getLocale();
  const locale = isLocale(picked) ? picked : DEFAULT_LOCALE;
  const messages = await getMessages();
  // This request's CSP nonce (src/proxy.ts): without it the browser refuses the inline script.
  const nonce = (await headers()).get("x-nonce") ?? undefined;
  return (
    <html lang={locale} suppressHydrationWarning>
      <head>
        <script nonce={nonce} dangerouslySetInnerHTML={{ __html: themeScript }} />
      </head>
      <body>
        <I18nProvider locale={locale} messages={messages}>
          <QueryProvider>
            <Shell>{children}</Shell>
          </QueryProvider>
        </I18nProvider>
      </body>
    </html>
  );
}
