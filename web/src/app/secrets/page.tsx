"use client";
// The Secrets screen: the user's secrets (add, replace the value, edit the description, delete)
// and the system's, read-only. A value is typed into a password field that React never holds in
// its state (the form is read on submit and emptied once saved) and is never shown again: the
// server answers with at most its last four characters.
import { useState } from "react";
import { useFormatter, useTranslations } from "next-intl";
import type { SecretView } from "@/generated/protocol";
import { useReadableError } from "@/lib/useReadableError";
import { queryKeys } from "@/lib/query/keys";
import { useCachedList } from "@/lib/query/useCachedList";
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
  const { items: secrets, setItems: setSecrets, missing, error: loadError } = useCachedList(queryKeys.secrets.list(), listSecrets);
  const [actionError, setError] = useState<string | null>(null);
  const readableError = useReadableError();
  const t = useTranslations("secrets");
  const tr = useTranslations();
  const format = useFormatter();
  const error = actionError ?? (loadError ? readableError(loadError) : null);
  const [editing, setEditing] = useState<Editing>(null);

  const saved = (s: SecretView) => {
    setSecrets((l) => withSecret(l ?? [], s));
    setEditing(null);
  };

  const remove = async (s: SecretView) => {
    if (!window.confirm(t("confirmDelete", { name: s.name }))) return;
    try {
      await deleteSecret(s.name);
      setSecrets((l) => withoutSecret(l ?? [], s.name));
    } catch (e) {
      setError(readableError(e));
    }
  };

  if (missing) return <p className="muted pad">{t("missing")}</p>;
  const { own, system } = splitSecrets(secrets ?? []);
  const isEditing = (name: string, what: "value" | "description") => editing !== null && editing !== "new" && editing.name === name && editing.what === what;

  return (
    <div className="page secrets">
      <div className="page-head">
        <h1>{t("title")}</h1>
        <span className="spacer" />
        <button className="button primary" onClick={() => setEditing(editing === "new" ? null : "new")} aria-expanded={editing === "new"}>
          {editing === "new" ? tr("common.actions.close") : t("new")}
        </button>
      </div>
      <p className="muted small">{t.rich("intro", { code: (chunks) => <code>{chunks}</code>, example: "${NAME}" })}</p>
      {editing === "new" && <NewSecretForm onSaved={saved} onCancel={() => setEditing(null)} />}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <h2>{t("yours")}</h2>
      {secrets === null ? (
        <p className="muted">{tr("common.states.loading")}</p>
      ) : own.length === 0 ? (
        <p className="muted">{t("none")}</p>
      ) : (
        <ul className="cap-list" data-testid="secret-list">
          {own.map((s) => (
            <li key={s.name} data-name={s.name}>
              <div className="cap-row">
                <div className="cap-main">
                  <span className="cap-name mono">{s.name}</span>{" "}
                  <span className="mono muted secret-mask" data-testid="secret-last4" title={s.last4 ? t("last4Title") : t("shortTitle")}>
                    {maskedValue(s)}
                  </span>
                  {s.description && <div className="small">{s.description}</div>}
                  <div className="muted small">{t("updated", { date: format.dateTime(new Date(s.updated_at), { dateStyle: "medium", timeStyle: "short" }) })}</div>
                </div>
                <div className="cap-actions">
                  <button
                    className="button small"
                    onClick={() => setEditing(isEditing(s.name, "value") ? null : { name: s.name, what: "value" })}
                    aria-expanded={isEditing(s.name, "value")}
                  >
                    {t("replaceValue")}
                  </button>
                  <button
                    className="button small"
                    onClick={() => setEditing(isEditing(s.name, "description") ? null : { name: s.name, what: "description" })}
                    aria-expanded={isEditing(s.name, "description")}
                  >
                    {t("editDescription")}
                  </button>
                  <button className="button small danger" onClick={() => void remove(s)} aria-label={t("deleteLabel", { name: s.name })}>
                    {tr("common.actions.delete")}
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
          <h2>{t("system.title")}</h2>
          <p className="muted small">{t("system.intro")}</p>
          <ul className="cap-list" data-testid="system-secret-list">
            {system.map((s) => (
              <li key={s.name} data-name={s.name} className={s.overridden ? "disabled" : ""}>
                <div className="cap-row">
                  <div className="cap-main">
                    <span className="cap-name mono">{s.name}</span> <SystemBadge />{" "}
                    <span className="mono muted secret-mask">{maskedValue(s)}</span>
                    {s.description && <div className="small">{s.description}</div>}
                    {s.overridden && <div className="muted small">{t("system.overridden")}</div>}
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
function ValueField({ label }: { label?: string }) {
  const t = useTranslations("secrets.form");
  return (
    <label>
      {label ?? t("value")}
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
  const t = useTranslations("secrets.form");
  const tr = useTranslations();
  const nameProblem = name ? secretNameProblem(name, tr) : null;

  const submit = async (e: React.FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = e.currentTarget;
    const value = valueOf(form);
    const problem = secretNameProblem(name, tr) ?? secretValueProblem(value, tr) ?? secretDescriptionProblem(description, tr);
    if (problem) return setError(problem);
    setSaving(true);
    setError(null);
    try {
      const saved = await createSecret(name, value, description.trim());
      form.reset();
      onSaved(saved);
    } catch (err) {
      setError(secretError(err, name, tr));
    } finally {
      setSaving(false);
    }
  };

  return (
    <form className="cap-form" onSubmit={(e) => void submit(e)} aria-label={t("newLabel")} autoComplete="off">
      <div className="grid2">
        <label>
          {t("name")}
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
        {t("description")}
        <input value={description} onChange={(e) => setDescription(e.target.value)} placeholder={t("descriptionPlaceholder")} maxLength={MAX_SECRET_DESCRIPTION_CHARS} />
      </label>
      <FormButtons saving={saving} error={error} label={t("create")} onCancel={onCancel} />
    </form>
  );
}

function ReplaceValueForm({ secret, onSaved, onCancel }: { secret: SecretView; onSaved: (s: SecretView) => void; onCancel: () => void }) {
  const { saving, setSaving, error, setError } = useSaving();
  const readableError = useReadableError();
  const t = useTranslations("secrets.form");
  const tr = useTranslations();
  const submit = async (e: React.FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = e.currentTarget;
    const value = valueOf(form);
    const problem = secretValueProblem(value, tr);
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
    <form className="cap-form" onSubmit={(e) => void submit(e)} aria-label={t("replaceLabel", { name: secret.name })} autoComplete="off">
      <ValueField label={t("newValue")} />
      <p className="muted small">{t("replaceNote")}</p>
      <FormButtons saving={saving} error={error} label={tr("secrets.replaceValue")} onCancel={onCancel} />
    </form>
  );
}

function DescriptionForm({ secret, onSaved, onCancel }: { secret: SecretView; onSaved: (s: SecretView) => void; onCancel: () => void }) {
  const [description, setDescription] = useState(secret.description);
  const { saving, setSaving, error, setError } = useSaving();
  const readableError = useReadableError();
  const t = useTranslations("secrets.form");
  const tr = useTranslations();
  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    const problem = secretDescriptionProblem(description, tr);
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
    <form className="cap-form" onSubmit={(e) => void submit(e)} aria-label={t("describeLabel", { name: secret.name })}>
      <label>
        {t("description")}
        <input value={description} onChange={(e) => setDescription(e.target.value)} maxLength={MAX_SECRET_DESCRIPTION_CHARS} autoFocus />
      </label>
      <FormButtons saving={saving} error={error} label={t("saveDescription")} onCancel={onCancel} />
    </form>
  );
}

function FormButtons({ saving, error, label, onCancel }: { saving: boolean; error: string | null; label: string; onCancel: () => void }) {
  const tr = useTranslations();
  return (
    <>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <div className="form-actions">
        <button className="button primary" type="submit" disabled={saving}>
          {saving ? tr("common.actions.saving") : label}
        </button>
        <button className="button" type="button" onClick={onCancel}>
          {tr("common.actions.cancel")}
        </button>
      </div>
    </>
  );
}
