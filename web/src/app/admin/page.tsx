"use client";
// The Admin screen (admins only): every user with their usage (runs, failures, tokens, cost, last
// run), disable/enable, make admin/member, one-time password reset links; and invites (create —
// the link is shown once —, list, withdraw).
import { useEffect, useState } from "react";
import type { AdminUserView, InviteView, PasswordResetLink, Role } from "@/generated/protocol";
import { ApiError, readableError } from "@/lib/api";
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
  if (!me) return null;
  if (me.user.role !== "admin") {
    return (
      <div className="page">
        <h1>Admin</h1>
        <p className="muted" data-testid="admin-only">
          Only admins can see this page.
        </p>
      </div>
    );
  }
  if (me.auth_mode === "single_user") {
    return (
      <div className="page">
        <h1>Admin</h1>
        <p className="muted">This server runs in single-user mode: there are no accounts or invites to manage.</p>
      </div>
    );
  }
  return (
    <div className="page admin">
      <div className="page-head">
        <h1>Admin</h1>
      </div>
      <Users myId={me.user.id} />
      <Invites />
    </div>
  );
}

function Users({ myId }: { myId: string }) {
  const [users, setUsers] = useState<AdminUserView[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [missing, setMissing] = useState(false);
  const [busy, setBusy] = useState<string | null>(null);
  const [reset, setReset] = useState<{ email: string; link: PasswordResetLink } | null>(null);

  useEffect(() => {
    listUsers()
      .then(setUsers)
      .catch((e) => (e instanceof ApiError && e.routeMissing ? setMissing(true) : setError(readableError(e))));
  }, []);

  const act = async (u: AdminUserView, fn: () => Promise<void>) => {
    setBusy(u.id);
    setError(null);
    try {
      await fn();
    } catch (e) {
      setError(readableError(e));
    } finally {
      setBusy(null);
    }
  };

  const setDisabled = (u: AdminUserView, disabled: boolean) => {
    const question = disabled
      ? `Disable ${u.email}? Their queued and running runs are canceled, and their sign-ins and API tokens stop working until you enable the account again.`
      : `Enable ${u.email}? They can sign in again, and their API tokens work again.`;
    if (!window.confirm(question)) return;
    void act(u, async () => {
      const saved = await updateUser(u.id, { disabled });
      setUsers((l) => withUser(l ?? [], saved));
    });
  };

  const setRole = (u: AdminUserView, role: Role) => {
    const question =
      role === "admin"
        ? `Make ${u.email} an admin? They can then manage every user and invite and see everyone's usage.`
        : `Make ${u.email} a member? They lose access to this page, and their tokens lose the admin scope.`;
    if (!window.confirm(question)) return;
    void act(u, async () => {
      const saved = await updateUser(u.id, { role });
      setUsers((l) => withUser(l ?? [], saved));
    });
  };

  const resetLink = (u: AdminUserView) => {
    if (!window.confirm(`Create a password reset link for ${u.email}? Whoever opens it can set the account's password, once, within a day.`)) return;
    void act(u, async () => setReset({ email: u.email, link: await createResetLink(u.id) }));
  };

  if (missing) return <p className="muted">User management is not available on this server yet.</p>;

  return (
    <section aria-labelledby="users-head">
      <h2 id="users-head">Users</h2>
      {reset && (
        <ShownOnce
          title={`Password reset link for ${reset.email}`}
          value={reset.link.url}
          warning={`Send it to them yourself: it is not shown again, works once, and expires ${formatWhen(reset.link.expires_at)}. Setting a password with it signs them out everywhere.`}
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
        !error && <p className="muted">Loading…</p>
      ) : users.length === 0 ? (
        <p className="muted">No users.</p>
      ) : (
        <div className="table-wrap">
          <table className="data-table" data-testid="user-list">
            <thead>
              <tr>
                <th>E-mail</th>
                <th>Role</th>
                <th>State</th>
                <th className="num">Runs</th>
                <th className="num">Failed</th>
                <th>Tokens</th>
                <th className="num">Cost</th>
                <th>Last run</th>
                <th>Created</th>
                <th aria-label="Actions" />
              </tr>
            </thead>
            <tbody>
              {users.map((u) => {
                const usage = formatUsage(u.usage);
                const self = u.id === myId;
                return (
                  <tr key={u.id} data-email={u.email} className={u.disabled ? "disabled" : undefined}>
                    <td className="strong break">
                      {u.email}
                      {self && <span className="muted small"> (you)</span>}
                    </td>
                    <td>{roleLabel(u.role)}</td>
                    <td>{u.disabled ? <span className="badge badge-failed">disabled</span> : <span className="badge badge-completed">active</span>}</td>
                    <td className="num">{usage.runs}</td>
                    <td className="num">{usage.failed}</td>
                    <td className="nowrap">{usage.tokens}</td>
                    <td className="num">{usage.cost}</td>
                    <td className="nowrap">{usage.lastRun}</td>
                    <td className="nowrap" title={formatWhen(u.created_at)}>
                      {formatDay(u.created_at)}
                    </td>
                    <td>
                      <span className="table-actions">
                        <button
                          className={`button small ${u.disabled ? "" : "danger"}`}
                          disabled={busy === u.id || (self && !u.disabled)}
                          title={self && !u.disabled ? "You cannot disable your own account: ask another admin" : undefined}
                          onClick={() => setDisabled(u, !u.disabled)}
                        >
                          {u.disabled ? "Enable" : "Disable"}
                        </button>
                        <button
                          className="button small"
                          disabled={busy === u.id || (self && u.role === "admin")}
                          title={self && u.role === "admin" ? "You cannot demote yourself: ask another admin" : undefined}
                          onClick={() => setRole(u, u.role === "admin" ? "member" : "admin")}
                        >
                          {u.role === "admin" ? "Make member" : "Make admin"}
                        </button>
                        <button className="button small" disabled={busy === u.id} onClick={() => resetLink(u)}>
                          Reset link
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
  const [invites, setInvites] = useState<InviteView[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<{ url: string; invite: InviteView } | null>(null);

  useEffect(() => {
    listInvites()
      .then(setInvites)
      .catch((e) => setError(readableError(e)));
  }, []);

  const withdraw = async (i: InviteView) => {
    const open = inviteState(i) === "open";
    if (open && !window.confirm(`Withdraw the invite for ${inviteFor(i)}? Its link stops working.`)) return;
    try {
      await deleteInvite(i.id);
      setInvites((l) => (l ?? []).filter((x) => x.id !== i.id));
    } catch (e) {
      setError(readableError(e));
    }
  };

  return (
    <section aria-labelledby="invites-head">
      <div className="page-head section-head">
        <h2 id="invites-head">Invites</h2>
        <span className="spacer" />
        <button className="button primary" onClick={() => setCreating((c) => !c)} aria-expanded={creating}>
          {creating ? "Close" : "New invite"}
        </button>
      </div>
      <p className="muted small">An invite link lets one person create an account (with the role you choose), whatever the registration setting.</p>
      {created && (
        <ShownOnce
          title={`Invite link for ${inviteFor(created.invite)}`}
          value={created.url}
          warning={`Send it yourself: it is not shown again. It works once and expires ${formatWhen(created.invite.expires_at)}.`}
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
        !error && <p className="muted">Loading…</p>
      ) : invites.length === 0 ? (
        <p className="muted">No invites.</p>
      ) : (
        <div className="table-wrap">
          <table className="data-table" data-testid="invite-list">
            <thead>
              <tr>
                <th>For</th>
                <th>Role</th>
                <th>Created</th>
                <th>Expires</th>
                <th>State</th>
                <th aria-label="Actions" />
              </tr>
            </thead>
            <tbody>
              {invites.map((i) => {
                const state = inviteState(i);
                return (
                  <tr key={i.id} className={state === "open" ? undefined : "disabled"}>
                    <td className={i.email ? "strong" : "muted"}>{inviteFor(i)}</td>
                    <td>{roleLabel(i.role)}</td>
                    <td className="nowrap" title={formatWhen(i.created_at)}>
                      {formatDay(i.created_at)}
                    </td>
                    <td className="nowrap">{formatWhen(i.expires_at)}</td>
                    <td>
                      {state === "used" ? (
                        <span className="badge" title={formatWhen(i.used_at)}>
                          used
                        </span>
                      ) : state === "expired" ? (
                        <span className="badge badge-failed">expired</span>
                      ) : (
                        <span className="badge badge-completed">open</span>
                      )}
                    </td>
                    <td>
                      <button className={`button small ${state === "open" ? "danger" : ""}`} onClick={() => void withdraw(i)} aria-label={`${state === "open" ? "Withdraw" : "Remove"} the invite for ${inviteFor(i)}`}>
                        {state === "open" ? "Withdraw" : "Remove"}
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
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<Role>("member");
  const [days, setDays] = useState(String(DEFAULT_INVITE_DAYS));
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    const n = Number(days);
    const problem = inviteProblem(n);
    if (problem) return setError(problem);
    setSaving(true);
    setError(null);
    try {
      const created = await createInvite(inviteRequest(email, role, n));
      onCreated(created.url, created.invite);
    } catch (err) {
      setError(readableError(err));
    } finally {
      setSaving(false);
    }
  };

  return (
    <form className="cap-form" onSubmit={(e) => void submit(e)} aria-label="New invite">
      <label>
        E-mail (optional)
        <input type="email" name="invite_email" value={email} onChange={(e) => setEmail(e.target.value)} placeholder="Anyone with the link" autoComplete="off" />
      </label>
      <div className="grid2">
        <label>
          Role
          <select name="invite_role" value={role} onChange={(e) => setRole(e.target.value as Role)}>
            <option value="member">Member</option>
            <option value="admin">Admin</option>
          </select>
        </label>
        <label>
          Valid for (days)
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
          {saving ? "Creating…" : "Create invite"}
        </button>
        <button className="button" type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
