import type { Metadata, Viewport } from "next";
import { Shell } from "@/components/Shell";
import "highlight.js/styles/github.css";
import "./globals.css";

export const metadata: Metadata = { title: "Workcell", description: "Agent tasks, live" };
export const viewport: Viewport = { width: "device-width", initialScale: 1 };

// Sets the theme before the first paint (saved choice, else the system's), so there is no flash.
const themeScript = `try{var t=localStorage.getItem("theme");if(t!=="light"&&t!=="dark"){t=matchMedia("(prefers-color-scheme: dark)").matches?"dark":"light"}document.documentElement.dataset.theme=t}catch(e){}`;

export default function RootLayout({ children }: { children: React.ReactNode }) {
  return (
    <html lang="en" suppressHydrationWarning>
      <head>
        <script dangerouslySetInnerHTML={{ __html: themeScript }} />
      </head>
      <body>
        <Shell>{children}</Shell>
      </body>
    </html>
  );
}
