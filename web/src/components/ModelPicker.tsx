"use client";
// A model field: a picker from the deployment's catalog (`GET /models`), its first option the
// default a task gets when it names none (the project's, else the server's), with the chosen
// model's context and prices below. A server without a catalog gets the old free-text field.
import { useId } from "react";
import { useTranslations } from "next-intl";
import { findModel, modelDetails, modelLabel, modelOptions, useModels } from "@/lib/models";

export function ModelPicker({
  value,
  onChange,
  label,
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
  const t = useTranslations("tools.model");
  const tr = useTranslations();
  const shownLabel = label ?? t("label");
  if (failed) {
    return (
      <label>
        {shownLabel}
        <input
          value={value}
          onChange={(e) => onChange(e.target.value)}
          placeholder={projectDefault ? t("projectDefaultText", { model: projectDefault }) : t("serverDefaultText")}
          data-testid={testId}
        />
      </label>
    );
  }
  const fallback = projectDefault || catalog?.default_model || null;
  const defaultText = projectDefault
    ? t("projectDefault", { model: modelLabel(catalog, projectDefault) ?? projectDefault })
    : catalog?.default_model
      ? t("serverDefaultNamed", { model: modelLabel(catalog, catalog.default_model) ?? catalog.default_model })
      : t("serverDefault");
  const options = catalog ? modelOptions(catalog, value, tr) : value ? [{ id: value, label: value, known: false }] : [];
  const shown = findModel(catalog, value || fallback);
  return (
    <div className="field">
      <label>
        {shownLabel}
        <select value={value} onChange={(e) => onChange(e.target.value)} data-testid={testId} aria-describedby={shown ? hintId : undefined}>
          <option value="">{catalog ? defaultText : t("loading")}</option>
          {options.map((o) => (
            <option key={o.id} value={o.id}>
              {o.label}
            </option>
          ))}
        </select>
      </label>
      {shown && (
        <span className="muted small field-hint" id={hintId}>
          {modelDetails(shown, tr)}
        </span>
      )}
    </div>
  );
}
