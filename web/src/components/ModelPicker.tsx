"use client";
// A model field: a picker from the deployment's catalog (`GET /models`), its first option the
// default a task gets when it names none (the project's, else the server's), with the chosen
// model's context and prices below. A server without a catalog gets the old free-text field.
import { useId } from "react";
import { findModel, modelDetails, modelLabel, modelOptions, useModels } from "@/lib/models";

export function ModelPicker({
  value,
  onChange,
  label = "Model",
  projectDefault,
  testId,
}: {
  value: string;
  onChange: (model: string) => void;
  label?: string;
  /** The chosen project's default model: the empty choice then means that one. */
  projectDefault?: string | null;
  testId?: string;
}) {
  const { catalog, failed } = useModels();
  const hintId = useId();
  if (failed) {
    return (
      <label>
        {label}
        <input value={value} onChange={(e) => onChange(e.target.value)} placeholder={projectDefault ? `project default (${projectDefault})` : "server default"} data-testid={testId} />
      </label>
    );
  }
  const fallback = projectDefault || catalog?.default_model || null;
  const defaultText = projectDefault
    ? `Project default (${modelLabel(catalog, projectDefault)})`
    : catalog?.default_model
      ? `Server default (${modelLabel(catalog, catalog.default_model)})`
      : "Server default";
  const options = catalog ? modelOptions(catalog, value) : value ? [{ id: value, label: value, known: false }] : [];
  const shown = findModel(catalog, value || fallback);
  return (
    <div className="field">
      <label>
        {label}
        <select value={value} onChange={(e) => onChange(e.target.value)} data-testid={testId} aria-describedby={shown ? hintId : undefined}>
          <option value="">{catalog ? defaultText : "Loading models…"}</option>
          {options.map((o) => (
            <option key={o.id} value={o.id}>
              {o.label}
            </option>
          ))}
        </select>
      </label>
      {shown && (
        <span className="muted small field-hint" id={hintId}>
          {modelDetails(shown)}
        </span>
      )}
    </div>
  );
}
