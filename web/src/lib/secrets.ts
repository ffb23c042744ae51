// The user's secrets over the public API (`/secrets`) and the rules the Secrets screen and the
// token pickers share. A value goes to the server once, on create or replace, and never comes
// back: answers carry the name, the description and at most the last four characters.
import type { SecretList, SecretView, SetSecretRequest, UpdateSecretRequest } from "@/generated/protocol";
import { english, type Translate } from "@/i18n/translate";
import enErrors from "../../messages/en/errors.json";
import enSecrets from "../../messages/en/secrets.json";
import { api, ApiError, readableError } from "./api";

// The rules that return words take `t` (`useTranslations()`, keys under `secrets.rules`) and answer
// in English without it.
const ENGLISH = english({ secrets: enSecrets, errors: enErrors });

/** The backend's rule (`protocol::secrets::is_valid_name`). */
export const SECRET_NAME_RE = /^[A-Z_][A-Z0-9_]*$/;
export const MAX_SECRET_NAME_LEN = 128;
export const MAX_SECRET_VALUE_BYTES = 64 * 1024;
export const MAX_SECRET_DESCRIPTION_CHARS = 500;

/** Why a secret name would be refused, or `null`. */
export function secretNameProblem(name: string, t: Translate = ENGLISH): string | null {
  if (!name) return t("secrets.rules.name");
  if (name.length > MAX_SECRET_NAME_LEN) return t("secrets.rules.nameLength", { max: MAX_SECRET_NAME_LEN });
  if (!SECRET_NAME_RE.test(name)) return t("secrets.rules.nameChars");
  return null;
}

/** Why a value would be refused, or `null`. */
export function secretValueProblem(value: string, t: Translate = ENGLISH): string | null {
  if (!value) return t("secrets.rules.value");
  if (new TextEncoder().encode(value).length > MAX_SECRET_VALUE_BYTES) return t("secrets.rules.valueSize");
  return null;
}

export function secretDescriptionProblem(description: string, t: Translate = ENGLISH): string | null {
  return [...description].length > MAX_SECRET_DESCRIPTION_CHARS ? t("secrets.rules.descriptionLength", { max: MAX_SECRET_DESCRIPTION_CHARS }) : null;
}

export async function listSecrets(): Promise<SecretView[]> {
  return (await api<SecretList>("/secrets")).secrets;
}

/** `POST /secrets` (201; `409 name_taken` when the user has one of that name). */
export function createSecret(name: string, value: string, description: string): Promise<SecretView> {
  const body: SetSecretRequest = { name, value, description };
  return api<SecretView>("/secrets", { method: "POST", json: body });
}

/** `PUT /secrets/{name}`: a new value (the description stays). */
export function replaceSecretValue(name: string, value: string): Promise<SecretView> {
  const body: SetSecretRequest = { name: null, value, description: null };
  return api<SecretView>(`/secrets/${encodeURIComponent(name)}`, { method: "PUT", json: body });
}

export function updateSecretDescription(name: string, description: string): Promise<SecretView> {
  const body: UpdateSecretRequest = { description };
  return api<SecretView>(`/secrets/${encodeURIComponent(name)}`, { method: "PATCH", json: body });
}

export function deleteSecret(name: string): Promise<void> {
  return api<void>(`/secrets/${encodeURIComponent(name)}`, { method: "DELETE" });
}

/** What the list shows of a value: its last four characters, or only dots for a short value. */
export function maskedValue(secret: Pick<SecretView, "last4">): string {
  return secret.last4 ? `••••${secret.last4}` : "••••";
}

/** The user's own secrets and the system's, each by name. */
export function splitSecrets(list: SecretView[]): { own: SecretView[]; system: SecretView[] } {
  const byName = (a: SecretView, b: SecretView) => a.name.localeCompare(b.name);
  return { own: list.filter((s) => !s.system).sort(byName), system: list.filter((s) => s.system).sort(byName) };
}

/** The names a run can use, once each (the user's own wins over a system one of the same name). */
export function secretChoices(list: SecretView[]): { name: string; system: boolean }[] {
  const { own, system } = splitSecrets(list);
  const mine = new Set(own.map((s) => s.name));
  return [...own.map((s) => ({ name: s.name, system: false })), ...system.filter((s) => !mine.has(s.name)).map((s) => ({ name: s.name, system: true }))];
}

/** The list with `saved` in place of the user's secret of its name (or added). */
export function withSecret(list: SecretView[], saved: SecretView): SecretView[] {
  const rest = list.filter((s) => s.system || s.name !== saved.name);
  // A system secret of that name is now overridden.
  return [...rest.map((s) => (s.system && s.name === saved.name ? { ...s, overridden: true } : s)), saved];
}

/** The list without the user's secret `name` (a system one of that name shows again as in use). */
export function withoutSecret(list: SecretView[], name: string): SecretView[] {
  return list.filter((s) => s.system || s.name !== name).map((s) => (s.system && s.name === name ? { ...s, overridden: false } : s));
}

/** A save's failure in words; a taken name says what to do instead. */
export function secretError(e: unknown, name: string, t: Translate = ENGLISH): string {
  if (e instanceof ApiError && e.code === "name_taken") return t("secrets.rules.taken", { name });
  return readableError(e, t);
}
