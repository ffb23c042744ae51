"use client";
// The list-and-form layout the JSON-edited kinds share (MCP servers, commands, subagents,
// presets): the items with their system badge, enabled switch and actions, one form at a time for
// a new item or the one being edited. System items have no edit controls.
import { useState } from "react";
import { readableError } from "@/lib/api";
import type { LibraryKind, RequestOf, ViewOf } from "@/lib/capabilities";
import { useLibrary } from "@/lib/useLibrary";
import { EnabledToggle, SystemBadge } from "./parts";

/** What a kind's form gets: the item being edited (null: a new one), and how to save or leave. */
export interface FormProps<K extends LibraryKind> {
  initial: ViewOf<K> | null;
  /** Saves; a refusal throws and the form shows `readableError` of it. */
  save: (request: RequestOf<K>) => Promise<void>;
  cancel: () => void;
}

export function LibraryTab<K extends LibraryKind>({
  kind,
  noun,
  intro,
  summary,
  Form,
}: {
  kind: K;
  /** The item in words, for buttons ("command" → "New command"). */
  noun: string;
  intro: React.ReactNode;
  /** The lines under an item's name. */
  summary: (item: ViewOf<K>) => React.ReactNode;
  Form: (props: FormProps<K>) => React.ReactNode;
}) {
  const lib = useLibrary(kind);
  const [editing, setEditing] = useState<string | "new" | null>(null);

  if (lib.missing) return <p className="muted">This server does not offer {noun}s yet.</p>;

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
    if (!window.confirm(`Delete the ${noun} “${item.name}”? Queued and running tasks keep their copy.`)) return;
    await lib.remove(item);
  };

  return (
    <section className="cap-tab" data-testid={`cap-${kind}`}>
      <div className="cap-tab-head">
        <div className="muted small cap-intro">{intro}</div>
        <button className="button primary" onClick={() => setEditing(editing === "new" ? null : "new")} aria-expanded={editing === "new"}>
          {editing === "new" ? "Close" : `New ${noun}`}
        </button>
      </div>
      {lib.error && (
        <p className="error" role="alert">
          {lib.error}
        </p>
      )}
      {editing === "new" && formFor(null)}
      {lib.items === null ? (
        <p className="muted">Loading…</p>
      ) : lib.items.length === 0 ? (
        <p className="muted">No {noun}s yet.</p>
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
                          {editing === item.id ? "Close" : "Edit"}
                        </button>
                        <button className="button small danger" onClick={() => void remove(item)} aria-label={`Delete ${item.name}`}>
                          Delete
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
  const run = async (fn: () => Promise<void>) => {
    setSaving(true);
    setError(null);
    try {
      await fn();
    } catch (e) {
      setError(readableError(e));
    } finally {
      setSaving(false);
    }
  };
  return { saving, error, setError, run };
}

/** A form's error line and its Save/Cancel buttons. */
export function FormFooter({ saving, error, isNew, noun, cancel }: { saving: boolean; error: string | null; isNew: boolean; noun: string; cancel: () => void }) {
  return (
    <>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <div className="form-actions">
        <button className="button primary" type="submit" disabled={saving}>
          {saving ? "Saving…" : isNew ? `Create ${noun}` : "Save changes"}
        </button>
        <button className="button" type="button" onClick={cancel}>
          Cancel
        </button>
      </div>
    </>
  );
}
