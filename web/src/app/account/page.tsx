"use client";
// The Account screen: who is signed in, changing the password, and personal API tokens (list,
// create — the token is shown once —, revoke). In single-user mode there are no sign-ins, so
// neither passwords nor tokens are used.
import { useState } from "react";
import { useFormatter, useTranslations } from "next-intl";
import type { Scope, TokenView } from "@/generated/protocol";
import { useReadableError } from "@/lib/useReadableError";
import { useQueryClient } from "@tanstack/react-query";
import { queryKeys } from "@/lib/query/keys";
import { useCachedList } from "@/lib/query/useCachedList";
import {
  changePassword,
  createToken,
  DEFAULT_SCOPES,
  DEFAULT_TOKEN_EXPIRY_DAYS,
  expiryLabel,
  formatDay,
  formatWhen,
  isPast,
  listTokens,
  MAX_TOKEN_NAME_CHARS,
  MIN_PASSWORD_CHARS,
  newPasswordProblem,
  offeredScopes,
  revokeToken,
  roleLabel,
  SCOPES,
  scopeDescription,
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
  const t = useTranslations("account");
  const tr = useTranslations();
  const format = useFormatter();
  if (!me) return null;
  const singleUser = me.auth_mode === "single_user";
  return (
    <div className="page account">
      <div className="page-head">
        <h1>{t("title")}</h1>
      </div>
      <dl className="facts">
        <dt>{t("facts.email")}</dt>
        <dd data-testid="account-email">{me.user.email}</dd>
        <dt>{t("facts.role")}</dt>
        <dd data-testid="account-role">
          {roleLabel(me.user.role, tr)}
          {me.user.role === "admin" && <span className="muted small">{t("facts.adminNote")}</span>}
        </dd>
        <dt>{t("facts.since")}</dt>
        <dd>{formatWhen(me.user.created_at, undefined, format)}</dd>
      </dl>
      {singleUser ? (
        <p className="muted" data-testid="single-user-note">
          {t("singleUser")}
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
  const t = useTranslations("account.password");
  const tr = useTranslations();
  const readable = useReadableError();
  const qc = useQueryClient();
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [repeat, setRepeat] = useState("");
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState(false);

  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setDone(false);
    const problem = newPasswordProblem(next, repeat, tr);
    if (problem) return setError(problem);
    if (!window.confirm(t("confirm"))) return;
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
      void qc.invalidateQueries({ queryKey: queryKeys.account.tokens() });
    } catch (err) {
      setError(readable(err));
    } finally {
      setSaving(false);
    }
  };

  return (
    <section aria-labelledby="password-head">
      <h2 id="password-head">{t("title")}</h2>
      <form className="cap-form" onSubmit={(e) => void submit(e)} aria-label={t("formLabel")}>
        <p className="warn small form-note">{t("warning")}</p>
        <label>
          {t("current")}
          <input type="password" name="current_password" autoComplete="current-password" value={current} onChange={(e) => setCurrent(e.target.value)} />
        </label>
        <div className="grid2">
          <label>
            {t("new")}
            <input type="password" name="new_password" autoComplete="new-password" required value={next} onChange={(e) => setNext(e.target.value)} />
          </label>
          <label>
            {t("repeat")}
            <input type="password" name="repeat_password" autoComplete="new-password" required value={repeat} onChange={(e) => setRepeat(e.target.value)} />
          </label>
        </div>
        <p className="muted small form-note">{t("hint", { min: MIN_PASSWORD_CHARS })}</p>
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        {done && (
          <p className="ok" role="status">
            {t("done")}
          </p>
        )}
        <div className="form-actions">
          <button className="button primary" type="submit" disabled={saving}>
            {saving ? tr("common.actions.saving") : t("submit")}
          </button>
        </div>
      </form>
    </section>
  );
}

function Tokens({ isAdmin }: { isAdmin: boolean }) {
  const t = useTranslations("account.tokens");
  const tr = useTranslations();
  const format = useFormatter();
  const readable = useReadableError();
  const { items: tokens, setItems: setTokens, missing, error: loadError } = useCachedList(queryKeys.account.tokens(), listTokens);
  const [actionError, setError] = useState<string | null>(null);
  const error = actionError ?? (loadError ? readable(loadError) : null);
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<{ token: string; name: string } | null>(null);


  const revoke = async (token: TokenView) => {
    if (!window.confirm(t("revokeConfirm", { name: token.name, prefix: token.prefix }))) return;
    try {
      await revokeToken(token.id);
      setTokens((l) => (l ?? []).filter((x) => x.id !== token.id));
    } catch (e) {
      setError(readable(e));
    }
  };

  if (missing) {
    return (
      <section>
        <h2>{t("title")}</h2>
        <p className="muted">{t("missing")}</p>
      </section>
    );
  }

  return (
    <section aria-labelledby="tokens-head">
      <div className="page-head section-head">
        <h2 id="tokens-head">{t("title")}</h2>
        <span className="spacer" />
        <button className="button primary" onClick={() => setCreating((c) => !c)} aria-expanded={creating}>
          {creating ? tr("common.actions.close") : t("new")}
        </button>
      </div>
      <p className="muted small">{t.rich("intro", { code: (chunks) => <code>{chunks}</code> })}</p>
      {created && (
        <ShownOnce
          title={t("createdTitle", { name: created.name })}
          value={created.token}
          warning={t("createdWarning")}
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
        !error && <p className="muted">{tr("common.states.loading")}</p>
      ) : tokens.length === 0 ? (
        <p className="muted">{t("none")}</p>
      ) : (
        <div className="table-wrap">
          <table className="data-table" data-testid="token-list">
            <thead>
              <tr>
                <th>{t("columns.name")}</th>
                <th>{t("columns.token")}</th>
                <th>{t("columns.scopes")}</th>
                <th>{t("columns.created")}</th>
                <th>{t("columns.expires")}</th>
                <th>{t("columns.lastUsed")}</th>
                <th aria-label={t("columns.actions")} />
              </tr>
            </thead>
            <tbody>
              {tokens.map((token) => (
                <tr key={token.id} data-name={token.name} className={isPast(token.expires_at) ? "expired" : undefined}>
                  <td className="strong">{token.name}</td>
                  <td className="mono">{token.prefix}…</td>
                  <td>
                    <span className="chips inline-chips">
                      {token.scopes.map((s) => (
                        <span key={s} className="chip" title={s}>
                          {scopeLabel(s, tr)}
                        </span>
                      ))}
                    </span>
                  </td>
                  <td className="nowrap" title={formatWhen(token.created_at, undefined, format)}>
                    {formatDay(token.created_at, undefined, format)}
                  </td>
                  <td className={isPast(token.expires_at) ? "warn" : undefined}>{tokenExpiry(token, undefined, tr, format)}</td>
                  <td>{tokenLastUsed(token, tr, format)}</td>
                  <td>
                    <button className="button small danger" onClick={() => void revoke(token)} aria-label={t("revokeLabel", { name: token.name })}>
                      {t("revoke")}
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
  const t = useTranslations("account.newToken");
  const tr = useTranslations();
  const readable = useReadableError();
  const [name, setName] = useState("");
  const [days, setDays] = useState<number | null>(DEFAULT_TOKEN_EXPIRY_DAYS);
  const [scopes, setScopes] = useState<Scope[]>([...DEFAULT_SCOPES]);
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const offered = offeredScopes(isAdmin ? "admin" : "member");

  const toggle = (s: Scope, on: boolean) => setScopes((l) => (on ? [...l.filter((x) => x !== s), s] : l.filter((x) => x !== s)));

  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    const problem = tokenProblem(name, scopes, tr);
    if (problem) return setError(problem);
    setSaving(true);
    setError(null);
    try {
      const created = await createToken(tokenRequest(name, days, scopes));
      onCreated(created.token, created.info);
    } catch (err) {
      setError(readable(err));
    } finally {
      setSaving(false);
    }
  };

  return (
    <form className="cap-form" onSubmit={(e) => void submit(e)} aria-label={t("formLabel")}>
      <div className="grid2">
        <label>
          {t("name")}
          <input name="token_name" value={name} onChange={(e) => setName(e.target.value)} placeholder={t("namePlaceholder")} maxLength={MAX_TOKEN_NAME_CHARS} required autoFocus />
        </label>
        <label>
          {t("expiresAfter")}
          <select name="token_expiry" value={days === null ? "never" : String(days)} onChange={(e) => setDays(e.target.value === "never" ? null : Number(e.target.value))}>
            {TOKEN_EXPIRY_CHOICES.map((d) => (
              <option key={d ?? "never"} value={d === null ? "never" : String(d)}>
                {expiryLabel(d, tr)}
              </option>
            ))}
          </select>
        </label>
      </div>
      <fieldset className="checklist">
        <legend>{t("scopes")}</legend>
        {SCOPES.filter((s) => offered.includes(s.scope)).map((s) => (
          <label key={s.scope} className="check">
            <input type="checkbox" name="scope" value={s.scope} checked={scopes.includes(s.scope)} onChange={(e) => toggle(s.scope, e.target.checked)} />
            <span>
              {scopeLabel(s.scope, tr)} <span className="mono muted small">{s.scope}</span>
              <span className="muted small"> — {scopeDescription(s.scope, tr)}</span>
            </span>
          </label>
        ))}
      </fieldset>
      {days === null && <p className="warn small form-note">{t("neverWarning")}</p>}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <div className="form-actions">
        <button className="button primary" type="submit" disabled={saving} data-testid="create-token">
          {saving ? tr("common.actions.creating") : t("submit")}
        </button>
        <button className="button" type="button" onClick={onCancel}>
          {tr("common.actions.cancel")}
        </button>
      </div>
    </form>
  );
}
