// Accounts and access over the public API (`/auth/*`, `/tokens`, `/admin/*`) and the rules the
// sign-in screen, the Account page and the Admin page share: which ways in the sign-in screen
// offers, the password rules the browser checks before the server does, API token scopes and
// expiry, and how usage reads. The server stays the authority: everything checked here is checked
// there again.
import type {
  AdminUserList,
  AdminUserView,
  AuthConfig,
  AuthResponse,
  ChangePasswordRequest,
  CreatedInvite,
  CreatedToken,
  CreateInviteRequest,
  CreateTokenRequest,
  InviteList,
  InviteView,
  PasswordResetLink,
  RegisterRequest,
  ResetPasswordRequest,
  Role,
  Scope,
  TokenList,
  TokenView,
  UpdateUserRequest,
  UserUsage,
} from "@/generated/protocol";
import { english, type Format, type Translate } from "@/i18n/translate";
import enAccount from "../../messages/en/account.json";
import enAdmin from "../../messages/en/admin.json";
import enErrors from "../../messages/en/errors.json";
import { api, ApiError, readableError } from "./api";
import { formatCost } from "./models";

// The helpers that return words take `t` (`useTranslations()`, keys under `account.*` and
// `admin.*`) and dates `format` (`useFormatter()`); without them they answer in English.
const ENGLISH = english({ account: enAccount, admin: enAdmin, errors: enErrors });

/** The backend's password rule (`auth::password`): length in characters. */
export const MIN_PASSWORD_CHARS = 8;
export const MAX_PASSWORD_CHARS = 1024;
/** `protocol::accounts::MAX_TOKEN_NAME_CHARS`. */
export const MAX_TOKEN_NAME_CHARS = 100;
/** `protocol::accounts::MAX_EXPIRY_DAYS`: the longest a token or an invite may be valid. */
export const MAX_EXPIRY_DAYS = 366;
/** The server's default for an invite. */
export const DEFAULT_INVITE_DAYS = 7;

// ---------------------------------------------------------------------------------------------
// The sign-in screen

export type LoginMode = "login" | "register" | "reset";

export interface LoginView {
  /** An invite's token from `?invite=`: registering uses it. */
  invite: string | null;
  /** A reset link's token from `?reset=`: the screen asks for a new password. */
  reset: string | null;
  /** `?error=`: why a sign-in with an identity provider failed. */
  error: string | null;
  /** Whether the Register tab is offered. */
  registerTab: boolean;
  /** A line in place of the tab, or above the form. */
  note: "invited" | "invite_only" | "first_account" | null;
  /** What the screen opens with. */
  initialMode: LoginMode;
}

function param(params: URLSearchParams, name: string): string | null {
  const v = params.get(name)?.trim();
  return v ? v : null;
}

/** What the sign-in screen offers, from the server's settings (`null` while they load or when
 * they could not be read) and the page's query string. */
export function loginView(config: AuthConfig | null, search: string | URLSearchParams): LoginView {
  const params = typeof search === "string" ? new URLSearchParams(search) : search;
  const invite = param(params, "invite");
  const reset = param(params, "reset");
  const error = param(params, "error");
  const registration = config?.registration ?? null;
  const first = config?.first_account === true;
  // An invite is honoured whatever the policy; without one only open registration registers,
  // except the very first account (it becomes the admin) whatever the policy says.
  const registerTab = invite !== null || registration === "open" || first;
  const note = invite !== null ? "invited" : first ? "first_account" : registration === "invite" ? "invite_only" : null;
  const initialMode: LoginMode = reset !== null ? "reset" : invite !== null || first ? "register" : "login";
  return { invite, reset, error, registerTab, note, initialMode };
}

/** Where a provider's sign-in button goes: the start route, carrying an invite if there is one. */
export function providerHref(startPath: string, invite: string | null): string {
  return invite ? `${startPath}?invite=${encodeURIComponent(invite)}` : startPath;
}

/** The query string without the given parameters (for `history.replaceState` once one is used). */
export function withoutParams(search: string, names: string[]): string {
  const params = new URLSearchParams(search);
  for (const n of names) params.delete(n);
  const rest = params.toString();
  return rest ? `?${rest}` : "";
}

/** Why a new password would be refused, or `null`; `repeat` (when given) must match. Only the
 * length is checked here: the server also refuses common passwords and the e-mail address. */
export function newPasswordProblem(password: string, repeat?: string, t: Translate = ENGLISH): string | null {
  const len = [...password].length;
  if (len < MIN_PASSWORD_CHARS || len > MAX_PASSWORD_CHARS) return t("account.rules.passwordLength", { min: MIN_PASSWORD_CHARS, max: MAX_PASSWORD_CHARS });
  if (repeat !== undefined && password !== repeat) return t("account.rules.passwordsDiffer");
  return null;
}

/** A sign-in screen failure in words. */
export function authError(e: unknown, t: Translate = ENGLISH): string {
  if (e instanceof ApiError) {
    if (e.code === "email_taken") return t("account.rules.emailTaken");
    if (e.code === "rate_limited") return t("account.rules.rateLimited");
  }
  return readableError(e, t);
}

export function getAuthConfig(): Promise<AuthConfig> {
  return api<AuthConfig>("/auth/config");
}

export function login(email: string, password: string): Promise<AuthResponse> {
  return api<AuthResponse>("/auth/login", { method: "POST", json: { email, password } });
}

export function register(email: string, password: string, invite: string | null): Promise<AuthResponse> {
  const body: RegisterRequest = { email, password };
  if (invite) body.invite = invite;
  return api<AuthResponse>("/auth/register", { method: "POST", json: body });
}

export function resetPassword(token: string, password: string): Promise<void> {
  const body: ResetPasswordRequest = { token, password };
  return api<void>("/auth/reset-password", { method: "POST", json: body });
}

/** Every other sign-in and API token of the account stops working; the answer is a fresh login
 * (its cookie replaces this tab's). */
export function changePassword(currentPassword: string, newPassword: string): Promise<AuthResponse> {
  const body: ChangePasswordRequest = { current_password: currentPassword, new_password: newPassword };
  return api<AuthResponse>("/auth/password", { method: "POST", json: body });
}

// ---------------------------------------------------------------------------------------------
// Dates

/** A moment as the UI shows it, or `none` for `null` ("never"); `format`: `useFormatter()` (the
 * UI's language and the reader's time zone), else the browser's locale. */
export function formatWhen(iso: string | null, none = "never", format?: Format): string {
  if (!iso) return none;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const style = { dateStyle: "medium", timeStyle: "short" } as const;
  return format ? format.dateTime(d, style) : d.toLocaleString(undefined, style);
}

/** A day as the UI shows it in a table ("Dec 5, 2026"), or `none` for `null`. */
export function formatDay(iso: string | null, none = "never", format?: Format): string {
  if (!iso) return none;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return format ? format.dateTime(d, { dateStyle: "medium" }) : d.toLocaleDateString(undefined, { dateStyle: "medium" });
}

/** Whether `iso` is at or before `now`. */
export function isPast(iso: string | null, now: Date = new Date()): boolean {
  return iso !== null && new Date(iso).getTime() <= now.getTime();
}

// ---------------------------------------------------------------------------------------------
// API tokens

/** The scopes in their canonical order; `key`: their words under `account.scopes.{key}`. */
export const SCOPES: ReadonlyArray<{ scope: Scope; key: string }> = [
  { scope: "tasks:write", key: "tasksWrite" },
  { scope: "sessions:read", key: "sessionsRead" },
  { scope: "files:read", key: "filesRead" },
  { scope: "admin", key: "admin" },
];

export const DEFAULT_SCOPES: ReadonlyArray<Scope> = ["tasks:write", "sessions:read", "files:read"];

/** The scopes a token of someone with `role` may hold. */
export function offeredScopes(role: Role): Scope[] {
  return SCOPES.map((s) => s.scope).filter((s) => s !== "admin" || role === "admin");
}

export function scopeLabel(scope: Scope, t: Translate = ENGLISH): string {
  const known = SCOPES.find((s) => s.scope === scope);
  return known ? t(`account.scopes.${known.key}.label`) : scope;
}

export function scopeDescription(scope: Scope, t: Translate = ENGLISH): string {
  const known = SCOPES.find((s) => s.scope === scope);
  return known ? t(`account.scopes.${known.key}.description`) : "";
}

/** `scopes` in the canonical order, once each. */
export function sortScopes(scopes: Iterable<Scope>): Scope[] {
  const set = new Set(scopes);
  return SCOPES.map((s) => s.scope).filter((s) => set.has(s));
}

/** How long a new token may last, in days (`null`: it does not expire). */
export const TOKEN_EXPIRY_CHOICES: ReadonlyArray<number | null> = [7, 30, 90, 365, null];
export const DEFAULT_TOKEN_EXPIRY_DAYS = 90;

/** An expiry choice in words ("90 days", "Never"). */
export function expiryLabel(days: number | null, t: Translate = ENGLISH): string {
  return days === null ? t("account.expiry.never") : t("account.expiry.days", { days });
}

/** Why a token could not be created as asked, or `null`. */
export function tokenProblem(name: string, scopes: readonly Scope[], t: Translate = ENGLISH): string | null {
  const n = name.trim();
  if (!n) return t("account.rules.tokenName");
  if ([...n].length > MAX_TOKEN_NAME_CHARS) return t("account.rules.tokenNameLength", { max: MAX_TOKEN_NAME_CHARS });
  if (scopes.length === 0) return t("account.rules.tokenScope");
  return null;
}

export function tokenRequest(name: string, days: number | null, scopes: readonly Scope[]): CreateTokenRequest {
  const body: CreateTokenRequest = { name: name.trim(), scopes: sortScopes(scopes) };
  // Absent means a token that does not expire.
  if (days !== null) body.expires_in_days = days;
  return body;
}

/** When a token stops working: "never", the date, or "expired <date>". */
export function tokenExpiry(token: Pick<TokenView, "expires_at">, now: Date = new Date(), t: Translate = ENGLISH, format?: Format): string {
  if (!token.expires_at) return t("account.when.neverExpires");
  const when = formatWhen(token.expires_at, "", format);
  return isPast(token.expires_at, now) ? t("account.when.expired", { date: when }) : when;
}

export function tokenLastUsed(token: Pick<TokenView, "last_used_at">, t: Translate = ENGLISH, format?: Format): string {
  return formatWhen(token.last_used_at, t("account.when.neverUsed"), format);
}

export async function listTokens(): Promise<TokenView[]> {
  return (await api<TokenList>("/tokens")).tokens;
}

export function createToken(body: CreateTokenRequest): Promise<CreatedToken> {
  return api<CreatedToken>("/tokens", { method: "POST", json: body });
}

export function revokeToken(id: string): Promise<void> {
  return api<void>(`/tokens/${encodeURIComponent(id)}`, { method: "DELETE" });
}

// ---------------------------------------------------------------------------------------------
// Admin: users and their usage

/** A count of tokens: 950, 12.3k, 4.5M; with `format` in the UI's language's short form (in
 * Chinese 1.2万). */
export function formatCount(n: number, format?: Format, locale?: string): string {
  if (!Number.isFinite(n)) return "0";
  if (format && locale && locale !== "en") return format.number(n, { notation: "compact", maximumFractionDigits: 1 });
  if (n < 1000) return String(Math.round(n));
  const units: [number, string][] = [
    [1e3, "k"],
    [1e6, "M"],
    [1e9, "B"],
  ];
  for (const [i, [size, unit]] of units.entries()) {
    const v = n / size;
    const shown = trimZero(v.toFixed(v < 10 ? 1 : 0));
    // 999,999 is "1M", not "1000k".
    if (Number(shown) < 1000 || i === units.length - 1) return `${shown}${unit}`;
  }
  return String(n);
}

function trimZero(s: string): string {
  return s.endsWith(".0") ? s.slice(0, -2) : s;
}

/** A user's usage as the users table shows it. */
export function formatUsage(
  u: UserUsage,
  t: Translate = ENGLISH,
  format?: Format,
  locale?: string,
): { runs: string; failed: string; tokens: string; cost: string; lastRun: string } {
  const count = (n: number) => (format ? format.number(n) : String(n));
  return {
    runs: count(u.runs),
    failed: count(u.failed_runs),
    tokens: t("admin.usage.tokens", { input: formatCount(u.input_tokens, format, locale), output: formatCount(u.output_tokens, format, locale) }),
    cost: formatCost(u.cost_usd),
    lastRun: formatWhen(u.last_run_at, t("account.when.neverUsed"), format),
  };
}

export function roleLabel(role: Role, t: Translate = ENGLISH): string {
  return t(role === "admin" ? "account.roles.admin" : "account.roles.member");
}

/** The list with `saved` in place of the user of its id. */
export function withUser(list: AdminUserView[], saved: AdminUserView): AdminUserView[] {
  return list.map((u) => (u.id === saved.id ? saved : u));
}

export async function listUsers(): Promise<AdminUserView[]> {
  return (await api<AdminUserList>("/admin/users")).users;
}

/** `409` when an admin disables or demotes themselves. */
export function updateUser(id: string, change: UpdateUserRequest): Promise<AdminUserView> {
  return api<AdminUserView>(`/admin/users/${encodeURIComponent(id)}`, { method: "PATCH", json: change });
}

export function createResetLink(id: string): Promise<PasswordResetLink> {
  return api<PasswordResetLink>(`/admin/users/${encodeURIComponent(id)}/password-reset`, { method: "POST" });
}

// ---------------------------------------------------------------------------------------------
// Admin: invites

export type InviteState = "open" | "used" | "expired";

export function inviteState(invite: Pick<InviteView, "used_at" | "expires_at">, now: Date = new Date()): InviteState {
  if (invite.used_at) return "used";
  return isPast(invite.expires_at, now) ? "expired" : "open";
}

/** Who may use an invite. */
export function inviteFor(invite: Pick<InviteView, "email">, t: Translate = ENGLISH): string {
  return invite.email ?? t("admin.invites.anyone");
}

/** Why an invite could not be created as asked, or `null`. */
export function inviteProblem(days: number, t: Translate = ENGLISH): string | null {
  if (!Number.isInteger(days) || days < 1 || days > MAX_EXPIRY_DAYS) return t("admin.rules.inviteDays", { max: MAX_EXPIRY_DAYS });
  return null;
}

export function inviteRequest(email: string, role: Role, days: number): CreateInviteRequest {
  const body: CreateInviteRequest = { role, expires_in_days: days };
  const e = email.trim();
  if (e) body.email = e;
  return body;
}

export async function listInvites(): Promise<InviteView[]> {
  return (await api<InviteList>("/admin/invites")).invites;
}

export function createInvite(body: CreateInviteRequest): Promise<CreatedInvite> {
  return api<CreatedInvite>("/admin/invites", { method: "POST", json: body });
}

export function deleteInvite(id: string): Promise<void> {
  return api<void>(`/admin/invites/${encodeURIComponent(id)}`, { method: "DELETE" });
}
