"use client";
// The frame of every page: who is signed in, the live connection, the projects, the sidebar and
// the theme.
import { createContext, useCallback, useContext, useEffect, useState } from "react";
import { usePathname, useRouter } from "next/navigation";
import { useTranslations } from "next-intl";
import { LanguagePicker } from "@/i18n/LanguagePicker";
import type { MeResponse } from "@/generated/protocol";
import { api, ApiError } from "@/lib/api";
import { useReadableError } from "@/lib/useReadableError";
import { liveConnection, type LiveState } from "@/lib/live";
import { ProjectsProvider } from "./ProjectsProvider";
import { SearchLauncher } from "./search/SearchLauncher";
import { Sidebar } from "./Sidebar";

interface AuthInfo {
  me: MeResponse | null;
  refresh: () => Promise<void>;
}

const AuthContext = createContext<AuthInfo>({ me: null, refresh: async () => {} });
export const useAuth = () => useContext(AuthContext);

export function Shell({ children }: { children: React.ReactNode }) {
  const pathname = usePathname();
  const router = useRouter();
  const onLogin = pathname === "/login";
  const [me, setMe] = useState<MeResponse | null>(null);
  const [checked, setChecked] = useState(false);
  // The failure itself (not its words), so the banner follows a language switch.
  const [error, setError] = useState<unknown>(null);
  const [live, setLive] = useState<LiveState>("connecting");
  const [menuOpen, setMenuOpen] = useState(false);
  const readable = useReadableError();

  const refresh = useCallback(async () => {
    try {
      setMe(await api<MeResponse>("/auth/me"));
      setError(null);
    } catch (e) {
      setMe(null);
      if (!(e instanceof ApiError && e.status === 401)) setError(e);
    } finally {
      setChecked(true);
    }
  }, []);

  useEffect(() => {
    void refresh();
  }, [refresh]);

  useEffect(() => {
    if (checked && !me && !onLogin && error === null) router.replace("/login");
  }, [checked, me, onLogin, error, router]);

  useEffect(() => {
    if (!me) return;
    const conn = liveConnection();
    return conn.onState(setLive);
  }, [me]);

  useEffect(() => setMenuOpen(false), [pathname]);
  const t = useTranslations("common.shell");

  if (onLogin) {
    return <AuthContext.Provider value={{ me, refresh }}>{children}</AuthContext.Provider>;
  }
  return (
    <AuthContext.Provider value={{ me, refresh }}>
      <ProjectsProvider enabled={me !== null}>
        <div className={`app ${menuOpen ? "menu-open" : ""}`}>
          <Sidebar me={me} onClose={() => setMenuOpen(false)} />
          {menuOpen && <div className="scrim" onClick={() => setMenuOpen(false)} aria-hidden />}
          <div className="main">
            <header className="topbar">
              <button className="icon-button menu-button" aria-label={t("openMenu")} onClick={() => setMenuOpen((o) => !o)}>
                ☰
              </button>
              <span className="topbar-title">Workcell</span>
              {me && live !== "open" && (
                <span className={`live-state live-${live}`} role="status" data-testid="live-state">
                  {live === "reconnecting" ? t("reconnecting") : live === "unauthorized" ? t("signedOut") : t("connecting")}
                </span>
              )}
              {me && <SearchLauncher />}
              <LanguagePicker />
              <ThemeToggle />
            </header>
            {error !== null && (
              <div className="banner error" role="alert">
                {readable(error)} <button onClick={() => void refresh()}>{t("retry")}</button>
              </div>
            )}
            <main className="content">{me ? children : checked ? null : <p className="muted pad">{t("loading")}</p>}</main>
          </div>
        </div>
      </ProjectsProvider>
    </AuthContext.Provider>
  );
}

export function ThemeToggle() {
  const t = useTranslations("common.shell");
  const [theme, setTheme] = useState<string | null>(null);
  useEffect(() => setTheme(document.documentElement.dataset.theme ?? "light"), []);
  const toggle = () => {
    const next = theme === "dark" ? "light" : "dark";
    document.documentElement.dataset.theme = next;
    try {
      localStorage.setItem("theme", next);
    } catch {
      // storage may be disabled; the choice then lasts for this page
    }
    setTheme(next);
  };
  return (
    <button className="icon-button" onClick={toggle} aria-label={t("themeLabel")} title={t("theme")}>
      {theme === "dark" ? "☀" : "☾"}
    </button>
  );
}
