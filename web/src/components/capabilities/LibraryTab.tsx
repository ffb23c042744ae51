"use client";
// The list-and-form layout the JSON-edited kinds share (MCP servers, commands, subagents,
// presets): the items with their system badge, enabled switch and actions, one form at a time for
// a new item or the one being edited. System items have no edit controls.
import { useState } from "react";
import { useTranslations } from "next-intl";
import type { LibraryKind, RequestOf, ViewOf } from "@/lib/capabilities";
import { useLibrary } from "@/lib/useLibrary";
import { useReadableError } from "@/lib/useReadableError";
import { EnabledToggle, SystemBadge } from "./parts";

/** Each kind's words: `capabilities.kinds.{key}` (missing, new, none, confirmDelete, create). */
const WORDS: Record<LibraryKind, string> = {
  "mcp-servers": "mcpServers",
  "slash-commands": "commands",
  subagents: "subagents",
  presets: "presets",
};

/** What a kind's form gets: the item being edited (null: a new one), and how to save or leave. */
export interface FormProps<K extends LibraryKind> {
  initial: ViewOf<K> | null;
  /** Saves; a refusal throws and the form shows `readableError` of it. */
  save: (request: RequestOf<K>) => Promise<void>;
  cancel: () => void;
}

export function LibraryTab<K extends LibraryKind>({
  kind,
  intro,
  summary,
  Form,
}: {
  kind: K;
  intro: React.ReactNode;
  /** The lines under an item's name. */
  summary: (item: ViewOf<K>) => React.ReactNode;
  Form: (props: FormProps<K>) => React.ReactNode;
}) {
  const lib = useLibrary(kind);
  const [editing, setEditing] = useState<string | "new" | null>(null);
  const tk = useTranslations("capabilities.kinds");
  const words: string = WORDS[kind];
  const t = (key: string, values?: { name: string }) => tk(`${words}.${key}`, values);
  const tr = useTranslations();

  if (lib.missing) return <p className="muted">{t("missing")}</p>;

  const formFor = (item: ViewOf<K> | null) => (
    <Form
      initial={item}
      save={async (request) => {
        await lib.save(item?.id ?? null, request);
        setEditing(null);
      }}
      cancel={() => setEditing(null)}
    />
  );

  const remove = async (item: ViewOf<K>) => {
    if (!window.confirm(t("confirmDelete", { name: item.name }))) return;
    await lib.remove(item);
  };

  return (
    <section className="cap-tab" data-testid={`cap-${kind}`}>
      <div className="cap-tab-head">
        <div className="muted small cap-intro">{intro}</div>
        <button className="button primary" onClick={() => setEditing(editing === "new" ? null : "new")} aria-expanded={editing === "new"}>
          {editing === "new" ? tr("common.actions.close") : t("new")}
        </button>
      </div>
      {lib.error && (
        <p className="error" role="alert">
          {lib.error}
        </p>
      )}
      {editing === "new" && formFor(null)}
      {lib.items === null ? (
        <p className="muted">{tr("common.states.loading")}</p>
      ) : lib.items.length === 0 ? (
        <p className="muted">{t("none")}</p>
      ) : (
        <ul className="cap-list">
          {lib.items.map((item) => {
            const enabled = "enabled" in item ? (item.enabled as boolean) : null;
            return (
              <li key={item.id} className={enabled === false ? "disabled" : ""} data-name={item.name}>
                <div className="cap-row">
                  <div className="cap-main">
                    <span className="cap-name mono">{item.name}</span> {item.system && <SystemBadge />}
                    <div className="muted small">{summary(item)}</div>
                  </div>
                  <div className="cap-actions">
                    {enabled !== null && (
                      <EnabledToggle
                        name={item.name}
                        enabled={enabled}
                        system={item.system}
                        onChange={(on) => void lib.setEnabled(item as ViewOf<K> & { enabled: boolean }, on)}
                      />
                    )}
                    {!item.system && (
                      <>
                        <button className="button small" onClick={() => setEditing(editing === item.id ? null : item.id)} aria-expanded={editing === item.id}>
                          {editing === item.id ? tr("common.actions.close") : tr("common.actions.edit")}
                        </button>
                        <button className="button small danger" onClick={() => void remove(item)} aria-label={tr("capabilities.parts.deleteLabel", { name: item.name })}>
                          {tr("common.actions.delete")}
                        </button>
                      </>
                    )}
                  </div>
                </div>
                {editing === item.id && formFor(item)}
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}

/** The form state every kind's form needs: saving, and the error of the last attempt. */
export function useSaving() {
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const readable = useReadableError();
  const run = async (fn: () => Promise<void>) => {
    setSaving(true);
    setError(null);
    try {
      await fn();
    } catch (e) {
      setError(readable(e));
    } finally {
      setSaving(false);
    }
  };
  return { saving, error, setError, run };
}

/** A form's error line and its Save/Cancel buttons. */
export function FormFooter({ saving, error, isNew, kind, cancel }: { saving: boolean; error: string | null; isNew: boolean; kind: LibraryKind; cancel: () => void }) {
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
          {saving ? tr("common.actions.saving") : isNew ? tr(`capabilities.kinds.${WORDS[kind]}.create`) : tr("common.actions.saveChanges")}
        </button>
        <button className="button" type="button" onClick={cancel}>
          {tr("common.actions.cancel")}
        </button>
      </div>
    </>
  );
}
