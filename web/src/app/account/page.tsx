"use client";
// The Account screen: who is signed in, changing the password, and personal API tokens (list,
// create — the token is shown once —, revoke). In single-user mode there are no sign-ins, so
// neither passwords nor tokens are used.
import { useEffect, useState } from "react";
import type { Scope, TokenView } from "@/generated/protocol";
import { ApiError, readableError } from "@/lib/api";
import {
  changePassword,
  createToken,
  DEFAULT_SCOPES,
  DEFAULT_TOKEN_EXPIRY_DAYS,
  formatDay,
  formatWhen,
  isPast,
  listTokens,
  MAX_TOKEN_NAME_CHARS,
  newPasswordProblem,
  offeredScopes,
  revokeToken,
  roleLabel,
  SCOPES,
  scopeLabel,
  TOKEN_EXPIRY_CHOICES,
  tokenExpiry,
  tokenLastUsed,
  tokenProblem,
  tokenRequest,
} from "@/lib/accounts";
import { useAuth } from "@/components/Shell";
import { ShownOnce } from "@/components/ShownOnce";

export default function AccountPage() {
  const { me } = useAuth();
  if (!me) return null;
  const singleUser = me.auth_mode === "single_user";
  return (
    <div className="page account">
      <div className="page-head">
        <h1>Account</h1>
      </div>
      <dl className="facts">
        <dt>E-mail</dt>
        <dd data-testid="account-email">{me.user.email}</dd>
        <dt>Role</dt>
        <dd data-testid="account-role">
          {roleLabel(me.user.role)}
          {me.user.role === "admin" && <span className="muted small"> — manages users and invites</span>}
        </dd>
        <dt>Since</dt>
        <dd>{formatWhen(me.user.created_at)}</dd>
      </dl>
      {singleUser ? (
        <p className="muted" data-testid="single-user-note">
          This server runs in single-user mode: nobody signs in, so passwords and API tokens are not used. Anyone who can reach the server acts as
          this account.
        </p>
      ) : (
        <>
          <Tokens isAdmin={me.user.role === "admin"} />
          <PasswordForm />
        </>
      )}
    </div>
  );
}

function PasswordForm() {
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [repeat, setRepeat] = useState("");
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState(false);

  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setDone(false);
    const problem = newPasswordProblem(next, repeat);
    if (problem) return setError(problem);
    if (!window.confirm("Change your password? Every other sign-in of this account (other browsers, the CLI) and every API token stops working.")) return;
    setSaving(true);
    setError(null);
    try {
      // The answer carries a fresh login cookie for this tab.
      await changePassword(current, next);
      setCurrent("");
      setNext("");
      setRepeat("");
      setDone(true);
      // The tokens are revoked: the list shows it.
      window.dispatchEvent(new Event(TOKENS_CHANGED));
    } catch (err) {
      setError(readableError(err));
    } finally {
      setSaving(false);
    }
  };

  return (
    <section aria-labelledby="password-head">
      <h2 id="password-head">Password</h2>
      <form className="cap-form" onSubmit={(e) => void submit(e)} aria-label="Change password">
        <p className="warn small form-note">
          Changing your password signs you out everywhere else: every other sign-in of this account and every API token stops working. This browser stays
          signed in.
        </p>
        <label>
          Current password
          <input type="password" name="current_password" autoComplete="current-password" value={current} onChange={(e) => setCurrent(e.target.value)} />
        </label>
        <div className="grid2">
          <label>
            New password
            <input type="password" name="new_password" autoComplete="new-password" required value={next} onChange={(e) => setNext(e.target.value)} />
          </label>
          <label>
            New password again
            <input type="password" name="repeat_password" autoComplete="new-password" required value={repeat} onChange={(e) => setRepeat(e.target.value)} />
          </label>
        </div>
        <p className="muted small form-note">At least 8 characters, not a common password. An account that signs in only with an identity provider leaves the current password empty.</p>
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        {done && (
          <p className="ok" role="status">
            Your password is changed. Other sign-ins and your API tokens no longer work.
          </p>
        )}
        <div className="form-actions">
          <button className="button primary" type="submit" disabled={saving}>
            {saving ? "Saving…" : "Change password"}
          </button>
        </div>
      </form>
    </section>
  );
}

const TOKENS_CHANGED = "workcell:tokens-changed";

function Tokens({ isAdmin }: { isAdmin: boolean }) {
  const [tokens, setTokens] = useState<TokenView[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [missing, setMissing] = useState(false);
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<{ token: string; name: string } | null>(null);

  useEffect(() => {
    const load = () =>
      listTokens()
        .then((t) => {
          setTokens(t);
          setError(null);
        })
        .catch((e) => (e instanceof ApiError && e.routeMissing ? setMissing(true) : setError(readableError(e))));
    void load();
    window.addEventListener(TOKENS_CHANGED, load);
    return () => window.removeEventListener(TOKENS_CHANGED, load);
  }, []);

  const revoke = async (t: TokenView) => {
    if (!window.confirm(`Revoke the token “${t.name}” (${t.prefix}…)? Anything that uses it is refused from now on.`)) return;
    try {
      await revokeToken(t.id);
      setTokens((l) => (l ?? []).filter((x) => x.id !== t.id));
    } catch (e) {
      setError(readableError(e));
    }
  };

  if (missing) {
    return (
      <section>
        <h2>API tokens</h2>
        <p className="muted">API tokens are not available on this server yet.</p>
      </section>
    );
  }

  return (
    <section aria-labelledby="tokens-head">
      <div className="page-head section-head">
        <h2 id="tokens-head">API tokens</h2>
        <span className="spacer" />
        <button className="button primary" onClick={() => setCreating((c) => !c)} aria-expanded={creating}>
          {creating ? "Close" : "New token"}
        </button>
      </div>
      <p className="muted small">
        For scripts and the command line: send it as <code>Authorization: Bearer wc_…</code>. A token acts as you, limited to its scopes; it cannot create
        tokens or change your password.
      </p>
      {created && (
        <ShownOnce
          title={`Your new token “${created.name}”`}
          value={created.token}
          warning="Copy it now: it is not shown again. Anyone who has it can act as you within its scopes."
          onDone={() => setCreated(null)}
          testId="new-token"
        />
      )}
      {creating && (
        <NewTokenForm
          isAdmin={isAdmin}
          onCreated={(token, info) => {
            setCreated({ token, name: info.name });
            setTokens((l) => [info, ...(l ?? []).filter((x) => x.id !== info.id)]);
            setCreating(false);
          }}
          onCancel={() => setCreating(false)}
        />
      )}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {tokens === null ? (
        !error && <p className="muted">Loading…</p>
      ) : tokens.length === 0 ? (
        <p className="muted">No API tokens.</p>
      ) : (
        <div className="table-wrap">
          <table className="data-table" data-testid="token-list">
            <thead>
              <tr>
                <th>Name</th>
                <th>Token</th>
                <th>Scopes</th>
                <th>Created</th>
                <th>Expires</th>
                <th>Last used</th>
                <th aria-label="Actions" />
              </tr>
            </thead>
            <tbody>
              {tokens.map((t) => (
                <tr key={t.id} data-name={t.name} className={isPast(t.expires_at) ? "expired" : undefined}>
                  <td className="strong">{t.name}</td>
                  <td className="mono">{t.prefix}…</td>
                  <td>
                    <span className="chips inline-chips">
                      {t.scopes.map((s) => (
                        <span key={s} className="chip" title={s}>
                          {scopeLabel(s)}
                        </span>
                      ))}
                    </span>
                  </td>
                  <td className="nowrap" title={formatWhen(t.created_at)}>
                    {formatDay(t.created_at)}
                  </td>
                  <td className={isPast(t.expires_at) ? "warn" : undefined}>{tokenExpiry(t)}</td>
                  <td>{tokenLastUsed(t)}</td>
                  <td>
                    <button className="button small danger" onClick={() => void revoke(t)} aria-label={`Revoke ${t.name}`}>
                      Revoke
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function NewTokenForm({ isAdmin, onCreated, onCancel }: { isAdmin: boolean; onCreated: (token: string, info: TokenView) => void; onCancel: () => void }) {
  const [name, setName] = useState("");
  const [days, setDays] = useState<number | null>(DEFAULT_TOKEN_EXPIRY_DAYS);
  const [scopes, setScopes] = useState<Scope[]>([...DEFAULT_SCOPES]);
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const offered = offeredScopes(isAdmin ? "admin" : "member");

  const toggle = (s: Scope, on: boolean) => setScopes((l) => (on ? [...l.filter((x) => x !== s), s] : l.filter((x) => x !== s)));

  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    const problem = tokenProblem(name, scopes);
    if (problem) return setError(problem);
    setSaving(true);
    setError(null);
    try {
      const created = await createToken(tokenRequest(name, days, scopes));
      onCreated(created.token, created.info);
    } catch (err) {
      setError(readableError(err));
    } finally {
      setSaving(false);
    }
  };

  return (
    <form className="cap-form" onSubmit={(e) => void submit(e)} aria-label="New API token">
      <div className="grid2">
        <label>
          Name
          <input name="token_name" value={name} onChange={(e) => setName(e.target.value)} placeholder="laptop CLI" maxLength={MAX_TOKEN_NAME_CHARS} required autoFocus />
        </label>
        <label>
          Expires after
          <select name="token_expiry" value={days === null ? "never" : String(days)} onChange={(e) => setDays(e.target.value === "never" ? null : Number(e.target.value))}>
            {TOKEN_EXPIRY_CHOICES.map((c) => (
              <option key={c.label} value={c.days === null ? "never" : String(c.days)}>
                {c.label}
              </option>
            ))}
          </select>
        </label>
      </div>
      <fieldset className="checklist">
        <legend>Scopes</legend>
        {SCOPES.filter((s) => offered.includes(s.scope)).map((s) => (
          <label key={s.scope} className="check">
            <input type="checkbox" name="scope" value={s.scope} checked={scopes.includes(s.scope)} onChange={(e) => toggle(s.scope, e.target.checked)} />
            <span>
              {s.label} <span className="mono muted small">{s.scope}</span>
              <span className="muted small"> — {s.description}</span>
            </span>
          </label>
        ))}
      </fieldset>
      {days === null && <p className="warn small form-note">A token that never expires works until you revoke it or change your password.</p>}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <div className="form-actions">
        <button className="button primary" type="submit" disabled={saving} data-testid="create-token">
          {saving ? "Creating…" : "Create token"}
        </button>
        <button className="button" type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
