"use client";
// Sign in, register (when registration is open, or with an invite's link), sign in with an
// identity provider, or set a new password with a reset link. What is offered comes from the
// server's settings (`GET /auth/config`) and the address: `?invite=`, `?reset=`, `?error=` (an
// identity provider's sign-in that failed). In single-user mode there are no accounts: the page
// moves on at once.
import { useCallback, useEffect, useState } from "react";
import { useTranslations } from "next-intl";
import type { AuthConfig } from "@/generated/protocol";
import { apiUrl } from "@/lib/api";
import { useReadableError } from "@/lib/useReadableError";
import { authError, getAuthConfig, login, loginView, type LoginMode, MIN_PASSWORD_CHARS, newPasswordProblem, providerHref, register, resetPassword, withoutParams } from "@/lib/accounts";
import { ThemeToggle, useAuth } from "@/components/Shell";

export default function Login() {
  const { me } = useAuth();
  const t = useTranslations("login");
  const tr = useTranslations();
  const readable = useReadableError();
  // The query string is read once mounted (the page is prerendered without one).
  const [search, setSearch] = useState<string | null>(null);
  const [config, setConfig] = useState<AuthConfig | null>(null);
  const [configError, setConfigError] = useState<string | null>(null);
  const [mode, setMode] = useState<LoginMode>("login");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [repeat, setRepeat] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const view = loginView(config, search ?? "");

  const loadConfig = useCallback(() => {
    setConfigError(null);
    getAuthConfig()
      .then((c) => {
        setConfig(c);
        if (c.auth_mode === "single_user") window.location.replace("/");
      })
      .catch((e) => setConfigError(readable(e)));
  }, [readable]);

  useEffect(() => {
    const s = window.location.search;
    setSearch(s);
    setMode(loginView(null, s).initialMode);
    loadConfig();
  }, [loadConfig]);

  // Signed in already: on to the app, unless the address carries a reset link or an invite.
  useEffect(() => {
    if (me && search !== null && !view.reset && !view.invite) window.location.replace("/");
  }, [me, search, view.reset, view.invite]);

  const choose = (m: LoginMode) => {
    setMode(m);
    setError(null);
    setNotice(null);
  };

  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setError(null);
    setNotice(null);
    if (mode === "register") {
      const problem = newPasswordProblem(password, undefined, tr);
      if (problem) return setError(problem);
    }
    setBusy(true);
    try {
      if (mode === "login") await login(email, password);
      else await register(email, password, view.invite);
      // A full load: the login cookie now authenticates the API and the WebSocket.
      window.location.replace("/");
    } catch (err) {
      setError(authError(err, tr));
      setBusy(false);
    }
  };

  const submitReset = async (e: React.FormEvent) => {
    e.preventDefault();
    setError(null);
    const problem = newPasswordProblem(password, repeat, tr);
    if (problem) return setError(problem);
    if (!view.reset) return;
    setBusy(true);
    try {
      await resetPassword(view.reset, password);
      // The link is used up: drop it from the address.
      const rest = withoutParams(search ?? "", ["reset"]);
      window.history.replaceState(null, "", `/login${rest}`);
      setSearch(rest);
      setPassword("");
      setRepeat("");
      setMode("login");
      setNotice(t("reset.done"));
    } catch (err) {
      setError(authError(err, tr));
    } finally {
      setBusy(false);
    }
  };

  const providers = config?.providers ?? [];

  return (
    <div className="login">
      <div className="login-card">
        <div className="login-head">
          <h1>Workcell</h1>
          <ThemeToggle />
        </div>
        {view.error && (
          <p className="error" role="alert" data-testid="login-url-error">
            {view.error}
          </p>
        )}
        {mode === "reset" ? (
          <form onSubmit={(e) => void submitReset(e)} aria-label={t("reset.title")}>
            <h2 className="login-title">{t("reset.title")}</h2>
            <p className="muted small">{t("reset.note", { min: MIN_PASSWORD_CHARS })}</p>
            <label>
              {t("reset.password")}
              <input type="password" required autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} name="password" />
            </label>
            <label>
              {t("reset.repeat")}
              <input type="password" required autoComplete="new-password" value={repeat} onChange={(e) => setRepeat(e.target.value)} name="repeat" />
            </label>
            {error && (
              <p className="error" role="alert">
                {error}
              </p>
            )}
            <button className="button primary wide" type="submit" disabled={busy} data-testid="reset-submit">
              {busy ? "…" : t("reset.submit")}
            </button>
            <button className="link-button" type="button" onClick={() => choose("login")}>
              {t("reset.back")}
            </button>
          </form>
        ) : (
          <>
            {view.registerTab ? (
              <div className="tabs" role="tablist">
                <button role="tab" aria-selected={mode === "login"} className={mode === "login" ? "active" : ""} onClick={() => choose("login")}>
                  {t("signIn")}
                </button>
                <button role="tab" aria-selected={mode === "register"} className={mode === "register" ? "active" : ""} onClick={() => choose("register")}>
                  {t("register")}
                </button>
              </div>
            ) : (
              <h2 className="login-title">{t("signIn")}</h2>
            )}
            {view.note === "first_account" && mode === "register" && (
              <p className="muted small" data-testid="first-account-note">
                {t("firstAccount")}
              </p>
            )}
            {view.note === "invited" && mode === "register" && (
              <p className="muted small" data-testid="invited-note">
                {t("invited")}
              </p>
            )}
            {notice && (
              <p className="ok small" role="status">
                {notice}
              </p>
            )}
            <form onSubmit={(e) => void submit(e)}>
              <label>
                {t("email")}
                <input type="email" required autoComplete="email" value={email} onChange={(e) => setEmail(e.target.value)} name="email" />
              </label>
              <label>
                {t("password")}
                <input
                  type="password"
                  required
                  autoComplete={mode === "login" ? "current-password" : "new-password"}
                  value={password}
                  onChange={(e) => setPassword(e.target.value)}
                  name="password"
                />
              </label>
              {mode === "register" && <p className="muted small form-note">{t("passwordHint", { min: MIN_PASSWORD_CHARS })}</p>}
              {error && (
                <p className="error" role="alert">
                  {error}
                </p>
              )}
              <button className="button primary wide" type="submit" disabled={busy} data-testid="auth-submit">
                {busy ? "…" : mode === "login" ? t("signIn") : t("createAccount")}
              </button>
            </form>
            {providers.length > 0 && (
              <div className="providers">
                <span className="providers-or muted small">{t("or")}</span>
                {providers.map((p) => (
                  // A full page load: the server sends the browser on to the provider and back.
                  <a key={p.id} className="button wide" href={apiUrl(providerHref(p.start_path, view.invite))} data-provider={p.id}>
                    {t("signInWith", { provider: p.name })}
                  </a>
                ))}
              </div>
            )}
            {view.note === "invite_only" && <p className="muted small login-foot">{t("inviteOnly")}</p>}
          </>
        )}
        {configError && (
          <p className="muted small login-foot">
            {t("configError", { error: configError })}{" "}
            <button className="link-button" type="button" onClick={loadConfig}>
              {tr("common.actions.retry")}
            </button>
          </p>
        )}
      </div>
    </div>
  );
}
