// The browser's only way to the backend: same-origin `/api/v1/*`, which the Next.js route handler
// proxies. Errors become `ApiError`s with a readable message instead of raw JSON. The UI decides by
// `code` (the generated `ErrorCode`) and the status, never by the message, which is for people.
import { ERROR_CODES, type ErrorBody, type ErrorCode } from "@/generated/protocol";
import { english, type Translate } from "@/i18n/translate";
import enErrors from "../../messages/en/errors.json";

const KNOWN: ReadonlySet<string> = new Set(ERROR_CODES);

export class ApiError extends Error {
  constructor(
    readonly status: number,
    /** `unknown` for a code this build does not know, or an answer without an error body. */
    readonly code: ErrorCode,
    message: string,
    /** False when the answer had no error body: `message` was made here from the status. */
    readonly fromServer: boolean = true,
  ) {
    super(message);
    this.name = "ApiError";
  }

  /** A route this server does not have (yet): the UI hides the feature instead of failing. */
  get routeMissing(): boolean {
    return this.code === "route_not_found";
  }
}

/** An error the UI itself raises: its words are the message `key` of the `errors` namespace. */
export class LocalError extends Error {
  constructor(readonly key: string, englishMessage: string) {
    super(englishMessage);
    this.name = "LocalError";
  }
}

/** The codes whose server message is replaced by a friendlier sentence (`errors.friendly.*`). */
const FRIENDLY: ReadonlySet<ErrorCode> = new Set<ErrorCode>(["bad_gateway", "unauthorized", "internal"]);

const ENGLISH = english({ errors: enErrors });

/**
 * Turns any failure into one sentence a person can read, in the UI's language when given `t`
 * (`useTranslations()`; components use `useReadableError()`), else in English. A refusal keeps
 * the server's own sentence, which is English.
 */
export function readableError(e: unknown, t: Translate = ENGLISH): string {
  if (e instanceof ApiError) {
    if (!e.fromServer) return t("errors.status", { status: e.status });
    if (e.code === "validation_error" || e.status < 500) return capitalize(e.message);
    return FRIENDLY.has(e.code) ? t(`errors.friendly.${e.code}`) : capitalize(e.message);
  }
  if (e instanceof LocalError) return t(`errors.${e.key}`);
  if (e instanceof TypeError) return t("errors.network");
  if (e instanceof Error) return e.message;
  return String(e);
}

function capitalize(s: string): string {
  return s.length ? s[0]!.toUpperCase() + s.slice(1) : s;
}

/** The `ApiError` of a non-2xx answer. */
export async function errorFrom(res: Response): Promise<ApiError> {
  const text = await res.text().catch(() => "");
  try {
    const body = JSON.parse(text) as ErrorBody;
    if (body?.error?.code) return new ApiError(res.status, knownCode(body.error.code), body.error.message);
  } catch {
    // not JSON: fall through
  }
  return new ApiError(res.status, "unknown", `request failed with status ${res.status}`, false);
}

/** A code from a newer server reads as `unknown`, as it does in the Rust services. */
export function knownCode(code: string): ErrorCode {
  return KNOWN.has(code) ? (code as ErrorCode) : "unknown";
}

/** `NEXT_PUBLIC_API_URL` (build time) sends the browser straight to the backend (which must then
 * list this origin in `CORS_ORIGINS`); unset, the same-origin proxy is used. */
const API_BASE = (process.env.NEXT_PUBLIC_API_URL ?? "").trim().replace(/\/+$/, "");

/** The URL of `/api/v1{path}` (for links, and requests `api` cannot make, such as uploads with
 * progress). */
export function apiUrl(path: string): string {
  return `${API_BASE}/api/v1${path}`;
}

/** The `credentials` mode of every API request. */
export const API_CREDENTIALS: RequestCredentials = API_BASE ? "include" : "same-origin";

/** Calls `/api/v1{path}` and returns its JSON (or `undefined` for 204). */
export async function api<T>(path: string, init: RequestInit & { json?: unknown } = {}): Promise<T> {
  const { json, ...rest } = init;
  const headers = new Headers(rest.headers);
  if (json !== undefined) headers.set("content-type", "application/json");
  const res = await fetch(apiUrl(path), {
    credentials: API_CREDENTIALS,
    ...rest,
    headers,
    body: json !== undefined ? JSON.stringify(json) : rest.body,
  });
  if (!res.ok) throw await errorFrom(res);
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}
