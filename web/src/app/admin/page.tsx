"use client";
// The Admin screen (admins only): every user with their usage (runs, failures, tokens, cost, last
// run), disable/enable, make admin/member, one-time password reset links; and invites (create —
// the link is shown once —, list, withdraw).
import { useState } from "react";
import { useFormatter, useLocale, useTranslations } from "next-intl";
import type { AdminUserView, InviteView, PasswordResetLink, Role } from "@/generated/protocol";
import { useReadableError } from "@/lib/useReadableError";
import { queryKeys } from "@/lib/query/keys";
import { useCachedList } from "@/lib/query/useCachedList";
import {
  createInvite,
  createResetLink,
  DEFAULT_INVITE_DAYS,
  deleteInvite,
  formatDay,
  formatUsage,
  formatWhen,
  inviteFor,
  inviteProblem,
  inviteRequest,
  inviteState,
  listInvites,
  listUsers,
  MAX_EXPIRY_DAYS,
  roleLabel,
  updateUser,
  withUser,
} from "@/lib/accounts";
import { useAuth } from "@/components/Shell";
import { ShownOnce } from "@/components/ShownOnce";

export default function AdminPage() {
  const { me } = useAuth();
  const t = useTranslations("admin");
  if (!me) return null;
  if (me.user.role !== "admin") {
    return (
      <div className="page">
        <h1>{t("title")}</h1>
        <p className="muted" data-testid="admin-only">
          {t("adminOnly")}
        </p>
      </div>
    );
  }
  if (me.auth_mode === "single_user") {
    return (
      <div className="page">
        <h1>{t("title")}</h1>
        <p className="muted">{t("singleUser")}</p>
      </div>
    );
  }
  return (
    <div className="page admin">
      <div className="page-head">
        <h1>{t("title")}</h1>
      </div>
      <Users myId={me.user.id} />
      <Invites />
    </div>
  );
}

function Users({ myId }: { myId: string }) {
  const t = useTranslations("admin.users");
  const tr = useTranslations();
  const format = useFormatter();
  const locale = useLocale();
  const readable = useReadableError();
  const { items: users, setItems: setUsers, missing, error: loadError } = useCachedList(queryKeys.admin.users(), listUsers);
  const [actionError, setError] = useState<string | null>(null);
  const error = actionError ?? (loadError ? readable(loadError) : null);
  const [busy, setBusy] = useState<string | null>(null);
  const [reset, setReset] = useState<{ email: string; link: PasswordResetLink } | null>(null);

  const act = async (u: AdminUserView, fn: () => Promise<void>) => {
    setBusy(u.id);
    setError(null);
    try {
      await fn();
    } catch (e) {
      setError(readable(e));
    } finally {
      setBusy(null);
    }
  };

  const setDisabled = (u: AdminUserView, disabled: boolean) => {
    const question = disabled ? t("confirmDisable", { email: u.email }) : t("confirmEnable", { email: u.email });
    if (!window.confirm(question)) return;
    void act(u, async () => {
      const saved = await updateUser(u.id, { disabled });
      setUsers((l) => withUser(l ?? [], saved));
    });
  };

  const setRole = (u: AdminUserView, role: Role) => {
    const question = role === "admin" ? t("confirmAdmin", { email: u.email }) : t("confirmMember", { email: u.email });
    if (!window.confirm(question)) return;
    void act(u, async () => {
      const saved = await updateUser(u.id, { role });
      setUsers((l) => withUser(l ?? [], saved));
    });
  };

  const resetLink = (u: AdminUserView) => {
    if (!window.confirm(t("confirmReset", { email: u.email }))) return;
    void act(u, async () => setReset({ email: u.email, link: await createResetLink(u.id) }));
  };

  if (missing) return <p className="muted">{t("missing")}</p>;

  return (
    <section aria-labelledby="users-head">
      <h2 id="users-head">{t("title")}</h2>
      {reset && (
        <ShownOnce
          title={t("resetTitle", { email: reset.email })}
          value={reset.link.url}
          warning={t("resetWarning", { date: formatWhen(reset.link.expires_at, undefined, format) })}
          onDone={() => setReset(null)}
          testId="reset-link"
        />
      )}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {users === null ? (
        !error && <p className="muted">{tr("common.states.loading")}</p>
      ) : users.length === 0 ? (
        <p className="muted">{t("none")}</p>
      ) : (
        <div className="table-wrap">
          <table className="data-table" data-testid="user-list">
            <thead>
              <tr>
                <th>{t("columns.email")}</th>
                <th>{t("columns.role")}</th>
                <th>{t("columns.state")}</th>
                <th className="num">{t("columns.runs")}</th>
                <th className="num">{t("columns.failed")}</th>
                <th>{t("columns.tokens")}</th>
                <th className="num">{t("columns.cost")}</th>
                <th>{t("columns.lastRun")}</th>
                <th>{t("columns.created")}</th>
                <th aria-label={t("columns.actions")} />
              </tr>
            </thead>
            <tbody>
              {users.map((u) => {
                const usage = formatUsage(u.usage, tr, format, locale);
                const self = u.id === myId;
                return (
                  <tr key={u.id} data-email={u.email} className={u.disabled ? "disabled" : undefined}>
                    <td className="strong break">
                      {u.email}
                      {self && <span className="muted small">{t("you")}</span>}
                    </td>
                    <td>{roleLabel(u.role, tr)}</td>
                    <td>{u.disabled ? <span className="badge badge-failed">{t("disabled")}</span> : <span className="badge badge-completed">{t("active")}</span>}</td>
                    <td className="num">{usage.runs}</td>
                    <td className="num">{usage.failed}</td>
                    <td className="nowrap">{usage.tokens}</td>
                    <td className="num">{usage.cost}</td>
                    <td className="nowrap">{usage.lastRun}</td>
                    <td className="nowrap" title={formatWhen(u.created_at, undefined, format)}>
                      {formatDay(u.created_at, undefined, format)}
                    </td>
                    <td>
                      <span className="table-actions">
                        <button
                          className={`button small ${u.disabled ? "" : "danger"}`}
                          disabled={busy === u.id || (self && !u.disabled)}
                          title={self && !u.disabled ? t("cannotDisableSelf") : undefined}
                          onClick={() => setDisabled(u, !u.disabled)}
                        >
                          {u.disabled ? t("enable") : t("disable")}
                        </button>
                        <button
                          className="button small"
                          disabled={busy === u.id || (self && u.role === "admin")}
                          title={self && u.role === "admin" ? t("cannotDemoteSelf") : undefined}
                          onClick={() => setRole(u, u.role === "admin" ? "member" : "admin")}
                        >
                          {u.role === "admin" ? t("makeMember") : t("makeAdmin")}
                        </button>
                        <button className="button small" disabled={busy === u.id} onClick={() => resetLink(u)}>
                          {t("resetLink")}
                        </button>
                      </span>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function Invites() {
  const t = useTranslations("admin.invites");
  const tr = useTranslations();
  const format = useFormatter();
  const readable = useReadableError();
  // A server without invites shows the load's error, as it did before the cache.
  const { items: invites, setItems: setInvites, query: invitesQuery } = useCachedList(queryKeys.admin.invites(), listInvites);
  const [actionError, setError] = useState<string | null>(null);
  const error = actionError ?? (invitesQuery.error ? readable(invitesQuery.error) : null);
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<{ url: string; invite: InviteView } | null>(null);

  const withdraw = async (i: InviteView) => {
    const open = inviteState(i) === "open";
    if (open && !window.confirm(t("confirmWithdraw", { who: inviteFor(i, tr) }))) return;
    try {
      await deleteInvite(i.id);
      setInvites((l) => (l ?? []).filter((x) => x.id !== i.id));
    } catch (e) {
      setError(readable(e));
    }
  };

  return (
    <section aria-labelledby="invites-head">
      <div className="page-head section-head">
        <h2 id="invites-head">{t("title")}</h2>
        <span className="spacer" />
        <button className="button primary" onClick={() => setCreating((c) => !c)} aria-expanded={creating}>
          {creating ? tr("common.actions.close") : t("new")}
        </button>
      </div>
      <p className="muted small">{t("intro")}</p>
      {created && (
        <ShownOnce
          title={t("createdTitle", { who: inviteFor(created.invite, tr) })}
          value={created.url}
          warning={t("createdWarning", { date: formatWhen(created.invite.expires_at, undefined, format) })}
          onDone={() => setCreated(null)}
          testId="invite-link"
        />
      )}
      {creating && (
        <NewInviteForm
          onCreated={(url, invite) => {
            setCreated({ url, invite });
            setInvites((l) => [invite, ...(l ?? [])]);
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
      {invites === null ? (
        !error && <p className="muted">{tr("common.states.loading")}</p>
      ) : invites.length === 0 ? (
        <p className="muted">{t("none")}</p>
      ) : (
        <div className="table-wrap">
          <table className="data-table" data-testid="invite-list">
            <thead>
              <tr>
                <th>{t("columns.for")}</th>
                <th>{t("columns.role")}</th>
                <th>{t("columns.created")}</th>
                <th>{t("columns.expires")}</th>
                <th>{t("columns.state")}</th>
                <th aria-label={t("columns.actions")} />
              </tr>
            </thead>
            <tbody>
              {invites.map((i) => {
                const state = inviteState(i);
                return (
                  <tr key={i.id} className={state === "open" ? undefined : "disabled"}>
                    <td className={i.email ? "strong" : "muted"}>{inviteFor(i, tr)}</td>
                    <td>{roleLabel(i.role, tr)}</td>
                    <td className="nowrap" title={formatWhen(i.created_at, undefined, format)}>
                      {formatDay(i.created_at, undefined, format)}
                    </td>
                    <td className="nowrap">{formatWhen(i.expires_at, undefined, format)}</td>
                    <td>
                      {state === "used" ? (
                        <span className="badge" title={formatWhen(i.used_at, undefined, format)}>
                          {t("states.used")}
                        </span>
                      ) : state === "expired" ? (
                        <span className="badge badge-failed">{t("states.expired")}</span>
                      ) : (
                        <span className="badge badge-completed">{t("states.open")}</span>
                      )}
                    </td>
                    <td>
                      <button
                        className={`button small ${state === "open" ? "danger" : ""}`}
                        onClick={() => void withdraw(i)}
                        aria-label={state === "open" ? t("withdrawLabel", { who: inviteFor(i, tr) }) : t("removeLabel", { who: inviteFor(i, tr) })}
                      >
                        {state === "open" ? t("withdraw") : t("remove")}
                      </button>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function NewInviteForm({ onCreated, onCancel }: { onCreated: (url: string, invite: InviteView) => void; onCancel: () => void }) {
  const t = useTranslations("admin.newInvite");
  const tr = useTranslations();
  const readable = useReadableError();
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<Role>("member");
  const [days, setDays] = useState(String(DEFAULT_INVITE_DAYS));
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    const n = Number(days);
    const problem = inviteProblem(n, tr);
    if (problem) return setError(problem);
    setSaving(true);
    setError(null);
    try {
      const created = await createInvite(inviteRequest(email, role, n));
      onCreated(created.url, created.invite);
    } catch (err) {
      setError(readable(err));
    } finally {
      setSaving(false);
    }
  };

  return (
    <form className="cap-form" onSubmit={(e) => void submit(e)} aria-label={t("formLabel")}>
      <label>
        {t("email")}
        <input type="email" name="invite_email" value={email} onChange={(e) => setEmail(e.target.value)} placeholder={t("emailPlaceholder")} autoComplete="off" />
      </label>
      <div className="grid2">
        <label>
          {t("role")}
          <select name="invite_role" value={role} onChange={(e) => setRole(e.target.value as Role)}>
            <option value="member">{roleLabel("member", tr)}</option>
            <option value="admin">{roleLabel("admin", tr)}</option>
          </select>
        </label>
        <label>
          {t("days")}
          <input type="number" name="invite_days" min={1} max={MAX_EXPIRY_DAYS} step={1} value={days} onChange={(e) => setDays(e.target.value)} required />
        </label>
      </div>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <div className="form-actions">
        <button className="button primary" type="submit" disabled={saving}>
          {saving ? tr("common.actions.creating") : t("submit")}
        </button>
        <button className="button" type="button" onClick={onCancel}>
          {tr("common.actions.cancel")}
        </button>
      </div>
    </form>
  );
}
