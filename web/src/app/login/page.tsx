"use client";
// Sign in or register. In single-user mode there are no accounts: the page moves on at once.
import { useEffect, useState } from "react";
import type { AuthResponse, Credentials } from "@/generated/protocol";
import { api, readableError } from "@/lib/api";
import { ThemeToggle, useAuth } from "@/components/Shell";

export default function Login() {
  const { me } = useAuth();
  const [mode, setMode] = useState<"login" | "register">("login");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    if (me) window.location.replace("/");
  }, [me]);

  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const body: Credentials = { email, password };
    try {
      await api<AuthResponse>(mode === "login" ? "/auth/login" : "/auth/register", { method: "POST", json: body });
      // A full load: the login cookie now authenticates the API and the WebSocket.
      window.location.replace("/");
    } catch (err) {
      setError(readableError(err));
      setBusy(false);
    }
  };

  return (
    <div className="login">
      <div className="login-card">
        <div className="login-head">
          <h1>Workcell</h1>
          <ThemeToggle />
        </div>
        <div className="tabs" role="tablist">
          <button role="tab" aria-selected={mode === "login"} className={mode === "login" ? "active" : ""} onClick={() => setMode("login")}>
            Sign in
          </button>
          <button role="tab" aria-selected={mode === "register"} className={mode === "register" ? "active" : ""} onClick={() => setMode("register")}>
            Register
          </button>
        </div>
        <form onSubmit={(e) => void submit(e)}>
          <label>
            Email
            <input type="email" required autoComplete="email" value={email} onChange={(e) => setEmail(e.target.value)} name="email" />
          </label>
          <label>
            Password
            <input
              type="password"
              required
              autoComplete={mode === "login" ? "current-password" : "new-password"}
              value={password}
              onChange={(e) => setPassword(e.target.value)}
              name="password"
            />
          </label>
          {error && (
            <p className="error" role="alert">
              {error}
            </p>
          )}
          <button className="button primary wide" type="submit" disabled={busy} data-testid="auth-submit">
            {busy ? "…" : mode === "login" ? "Sign in" : "Create account"}
          </button>
        </form>
      </div>
    </div>
  );
}
