"use client";
// The Secrets screen: the user's secrets (add, replace the value, edit the description, delete)
// and the system's, read-only. A value is typed into a password field that React never holds in
// its state (the form is read on submit and emptied once saved) and is never shown again: the
// server answers with at most its last four characters.
import { useEffect, useState } from "react";
import type { SecretView } from "@/generated/protocol";
import { ApiError, readableError } from "@/lib/api";
import {
  createSecret,
  deleteSecret,
  listSecrets,
  maskedValue,
  MAX_SECRET_DESCRIPTION_CHARS,
  MAX_SECRET_NAME_LEN,
  replaceSecretValue,
  secretDescriptionProblem,
  secretError,
  secretNameProblem,
  secretValueProblem,
  splitSecrets,
  updateSecretDescription,
  withoutSecret,
  withSecret,
} from "@/lib/secrets";
import { SystemBadge } from "@/components/capabilities/parts";

type Editing = { name: string; what: "value" | "description" } | "new" | null;

export default function SecretsPage() {
  const [secrets, setSecrets] = useState<SecretView[] | null>(null);
  const [missing, setMissing] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [editing, setEditing] = useState<Editing>(null);

  useEffect(() => {
    listSecrets()
      .then(setSecrets)
      .catch((e) => (e instanceof ApiError && e.routeMissing ? setMissing(true) : setError(readableError(e))));
  }, []);

  const saved = (s: SecretView) => {
    setSecrets((l) => withSecret(l ?? [], s));
    setEditing(null);
  };

  const remove = async (s: SecretView) => {
    if (!window.confirm(`Delete the secret ${s.name}? Tasks that name it are refused until you add it again (unless a system secret has its name).`)) return;
    try {
      await deleteSecret(s.name);
      setSecrets((l) => withoutSecret(l ?? [], s.name));
    } catch (e) {
      setError(readableError(e));
    }
  };

  if (missing) return <p className="muted pad">Secrets are not available on this server yet.</p>;
  const { own, system } = splitSecrets(secrets ?? []);
  const isEditing = (name: string, what: "value" | "description") => editing !== null && editing !== "new" && editing.name === name && editing.what === what;

  return (
    <div className="page secrets">
      <div className="page-head">
        <h1>Secrets</h1>
        <span className="spacer" />
        <button className="button primary" onClick={() => setEditing(editing === "new" ? null : "new")} aria-expanded={editing === "new"}>
          {editing === "new" ? "Close" : "New secret"}
        </button>
      </div>
      <p className="muted small">
        Values your runs need without you pasting them into a task: a private repository&apos;s token (picked by name in the composer or a project),
        an MCP server&apos;s <code>{"${NAME}"}</code>, a model provider&apos;s key. A value is stored encrypted, reaches only the runs that name it, and is
        never shown again after you save it: the list shows at most its last four characters.
      </p>
      {editing === "new" && <NewSecretForm onSaved={saved} onCancel={() => setEditing(null)} />}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <h2>Your secrets</h2>
      {secrets === null ? (
        <p className="muted">Loading…</p>
      ) : own.length === 0 ? (
        <p className="muted">No secrets yet.</p>
      ) : (
        <ul className="cap-list" data-testid="secret-list">
          {own.map((s) => (
            <li key={s.name} data-name={s.name}>
              <div className="cap-row">
                <div className="cap-main">
                  <span className="cap-name mono">{s.name}</span>{" "}
                  <span className="mono muted secret-mask" data-testid="secret-last4" title={s.last4 ? "The value's last four characters" : "A short value shows none of its characters"}>
                    {maskedValue(s)}
                  </span>
                  {s.description && <div className="small">{s.description}</div>}
                  <div className="muted small">updated {new Date(s.updated_at).toLocaleString()}</div>
                </div>
                <div className="cap-actions">
                  <button
                    className="button small"
                    onClick={() => setEditing(isEditing(s.name, "value") ? null : { name: s.name, what: "value" })}
                    aria-expanded={isEditing(s.name, "value")}
                  >
                    Replace value
                  </button>
                  <button
                    className="button small"
                    onClick={() => setEditing(isEditing(s.name, "description") ? null : { name: s.name, what: "description" })}
                    aria-expanded={isEditing(s.name, "description")}
                  >
                    Edit description
                  </button>
                  <button className="button small danger" onClick={() => void remove(s)} aria-label={`Delete ${s.name}`}>
                    Delete
                  </button>
                </div>
              </div>
              {isEditing(s.name, "value") && <ReplaceValueForm secret={s} onSaved={saved} onCancel={() => setEditing(null)} />}
              {isEditing(s.name, "description") && <DescriptionForm secret={s} onSaved={saved} onCancel={() => setEditing(null)} />}
            </li>
          ))}
        </ul>
      )}
      {system.length > 0 && (
        <>
          <h2>System secrets</h2>
          <p className="muted small">Set by the administrator for every user&apos;s runs; read-only here. A secret of yours with the same name wins.</p>
          <ul className="cap-list" data-testid="system-secret-list">
            {system.map((s) => (
              <li key={s.name} data-name={s.name} className={s.overridden ? "disabled" : ""}>
                <div className="cap-row">
                  <div className="cap-main">
                    <span className="cap-name mono">{s.name}</span> <SystemBadge />{" "}
                    <span className="mono muted secret-mask">{maskedValue(s)}</span>
                    {s.description && <div className="small">{s.description}</div>}
                    {s.overridden && <div className="muted small">Overridden by your secret of the same name.</div>}
                  </div>
                </div>
              </li>
            ))}
          </ul>
        </>
      )}
    </div>
  );
}

/** The value field: a password input React does not control, so the value lives only in the DOM
 * field until it is sent (and the field is emptied once saved). */
function ValueField({ label = "Value" }: { label?: string }) {
  return (
    <label>
      {label}
      <input name="value" type="password" autoComplete="new-password" spellCheck={false} required data-testid="secret-value" />
    </label>
  );
}

/** Reads the value field of a form. */
function valueOf(form: HTMLFormElement): string {
  const v = new FormData(form).get("value");
  return typeof v === "string" ? v : "";
}

function useSaving() {
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<string | null>(null);
  return { saving, setSaving, error, setError };
}

function NewSecretForm({ onSaved, onCancel }: { onSaved: (s: SecretView) => void; onCancel: () => void }) {
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const { saving, setSaving, error, setError } = useSaving();
  const nameProblem = name ? secretNameProblem(name) : null;

  const submit = async (e: React.FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = e.currentTarget;
    const value = valueOf(form);
    const problem = secretNameProblem(name) ?? secretValueProblem(value) ?? secretDescriptionProblem(description);
    if (problem) return setError(problem);
    setSaving(true);
    setError(null);
    try {
      const saved = await createSecret(name, value, description.trim());
      form.reset();
      onSaved(saved);
    } catch (err) {
      setError(secretError(err, name));
    } finally {
      setSaving(false);
    }
  };

  return (
    <form className="cap-form" onSubmit={(e) => void submit(e)} aria-label="New secret" autoComplete="off">
      <div className="grid2">
        <label>
          Name
          <input
            name="name"
            value={name}
            // Names are upper case: typing lower case is taken as meant.
            onChange={(e) => setName(e.target.value.toUpperCase())}
            placeholder="GITHUB_TOKEN"
            className="mono"
            maxLength={MAX_SECRET_NAME_LEN}
            required
            autoComplete="off"
            spellCheck={false}
            aria-invalid={nameProblem !== null}
          />
        </label>
        <ValueField />
      </div>
      {nameProblem && <p className="error small">{nameProblem}</p>}
      <label>
        Description
        <input value={description} onChange={(e) => setDescription(e.target.value)} placeholder="What it is for" maxLength={MAX_SECRET_DESCRIPTION_CHARS} />
      </label>
      <FormButtons saving={saving} error={error} label="Create secret" onCancel={onCancel} />
    </form>
  );
}

function ReplaceValueForm({ secret, onSaved, onCancel }: { secret: SecretView; onSaved: (s: SecretView) => void; onCancel: () => void }) {
  const { saving, setSaving, error, setError } = useSaving();
  const submit = async (e: React.FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = e.currentTarget;
    const value = valueOf(form);
    const problem = secretValueProblem(value);
    if (problem) return setError(problem);
    setSaving(true);
    setError(null);
    try {
      const saved = await replaceSecretValue(secret.name, value);
      form.reset();
      onSaved(saved);
    } catch (err) {
      setError(readableError(err));
    } finally {
      setSaving(false);
    }
  };
  return (
    <form className="cap-form" onSubmit={(e) => void submit(e)} aria-label={`Replace the value of ${secret.name}`} autoComplete="off">
      <ValueField label="New value" />
      <p className="muted small">Runs that start from now on get the new value.</p>
      <FormButtons saving={saving} error={error} label="Replace value" onCancel={onCancel} />
    </form>
  );
}

function DescriptionForm({ secret, onSaved, onCancel }: { secret: SecretView; onSaved: (s: SecretView) => void; onCancel: () => void }) {
  const [description, setDescription] = useState(secret.description);
  const { saving, setSaving, error, setError } = useSaving();
  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    const problem = secretDescriptionProblem(description);
    if (problem) return setError(problem);
    setSaving(true);
    setError(null);
    try {
      onSaved(await updateSecretDescription(secret.name, description.trim()));
    } catch (err) {
      setError(readableError(err));
    } finally {
      setSaving(false);
    }
  };
  return (
    <form className="cap-form" onSubmit={(e) => void submit(e)} aria-label={`Edit the description of ${secret.name}`}>
      <label>
        Description
        <input value={description} onChange={(e) => setDescription(e.target.value)} maxLength={MAX_SECRET_DESCRIPTION_CHARS} autoFocus />
      </label>
      <FormButtons saving={saving} error={error} label="Save description" onCancel={onCancel} />
    </form>
  );
}

function FormButtons({ saving, error, label, onCancel }: { saving: boolean; error: string | null; label: string; onCancel: () => void }) {
  return (
    <>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <div className="form-actions">
        <button className="button primary" type="submit" disabled={saving}>
          {saving ? "Saving…" : label}
        </button>
        <button className="button" type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </>
  );
}
