//! Accounts and access (`/api/v1/auth/*`, `/api/v1/tokens`, `/api/v1/admin/*`): roles, who may
//! register, personal access tokens and their scopes, invites and password resets.
//!
//! A personal access token is `wc_` followed by 43 characters (32 random bytes, base64url without
//! padding). The server keeps only its SHA-256; the token itself is shown once, when created.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use uuid::Uuid;

/// What a personal access token starts with.
pub const TOKEN_PREFIX: &str = "wc_";
/// The longest token name, in characters.
pub const MAX_TOKEN_NAME_CHARS: usize = 100;
/// The longest a token or an invite may be valid, in days.
pub const MAX_EXPIRY_DAYS: u32 = 366;

/// What an account may do beyond its own work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Manages users, invites and sees everyone's usage.
    Admin,
    Member,
}

impl Role {
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "admin" => Some(Role::Admin),
            "member" => Some(Role::Member),
            _ => None,
        }
    }
}

/// What an API token may do. A browser sign-in holds every scope its role allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Scope {
    /// Create tasks and follow-ups, cancel, answer, and every other change (POST, PUT, PATCH,
    /// DELETE on the public API).
    #[serde(rename = "tasks:write")]
    TasksWrite,
    /// Read sessions, runs, events, schedules, projects, the library; open the WebSocket.
    #[serde(rename = "sessions:read")]
    SessionsRead,
    /// Download files a run produced (listings, single files, archives).
    #[serde(rename = "files:read")]
    FilesRead,
    /// The admin API (only an admin's token may hold it).
    #[serde(rename = "admin")]
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 4] = [
        Scope::TasksWrite,
        Scope::SessionsRead,
        Scope::FilesRead,
        Scope::Admin,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Scope::TasksWrite => "tasks:write",
            Scope::SessionsRead => "sessions:read",
            Scope::FilesRead => "files:read",
            Scope::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Scope::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// Who may create an account (`REGISTRATION`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Registration {
    /// Anybody who reaches the server.
    Open,
    /// Only with an invite an admin created.
    Invite,
    /// Nobody (admins create accounts with `backend user create`).
    Closed,
}

/// `POST /auth/register`.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(example = json!({"email": "ada@example.com", "password": "correct horse battery staple"}))
)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    pub email: String,
    pub password: String,
    /// The invite's token (from its link); needed unless registration is open.
    #[serde(default)]
    #[ts(optional)]
    pub invite: Option<String>,
}

/// `POST /auth/password`: change one's own password. Every other login and API token of the
/// account stops working; the answer carries a fresh login.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(example = json!({"current_password": "correct horse battery staple", "new_password": "a longer passphrase than before"}))
)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    pub current_password: String,
    pub new_password: String,
}

/// `POST /auth/reset-password`: set a new password with a one-time reset link's token.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(example = json!({"token": "the token of the reset link", "password": "a new passphrase of mine"}))
)]
#[serde(deny_unknown_fields)]
pub struct ResetPasswordRequest {
    pub token: String,
    pub password: String,
}

/// A way to sign in besides e-mail and password.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SignInProvider {
    /// `oidc` or `github`.
    pub id: String,
    /// What the sign-in button says.
    pub name: String,
    /// Where the browser goes to start (a path under `/api/v1`).
    pub start_path: String,
}

/// `GET /auth/config` (no credentials needed): what the sign-in screen offers.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuthConfig {
    /// `single_user` or `password`.
    pub auth_mode: String,
    pub registration: Registration,
    /// No account exists yet: whoever registers first (whatever `registration` says) becomes the
    /// admin, so the sign-in screen offers to register.
    pub first_account: bool,
    pub providers: Vec<SignInProvider>,
}

/// `POST /tokens`.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(example = json!({"name": "laptop CLI", "expires_in_days": 90, "scopes": ["tasks:write", "sessions:read", "files:read"]}))
)]
#[serde(deny_unknown_fields)]
pub struct CreateTokenRequest {
    pub name: String,
    /// Days until it expires (1 to [`MAX_EXPIRY_DAYS`]); `null` or absent: never.
    #[serde(default)]
    #[ts(optional)]
    pub expires_in_days: Option<u32>,
    /// At least one; `admin` only for an admin.
    pub scopes: Vec<Scope>,
}

/// A personal access token as listed (never the token itself).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenView {
    pub id: Uuid,
    pub name: String,
    /// The token's first characters (`wc_` and four more), to tell tokens apart.
    pub prefix: String,
    pub scopes: Vec<Scope>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// The answer to `POST /tokens`: the token, shown this once.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedToken {
    pub token: String,
    pub info: TokenView,
}

/// `GET /tokens`: the caller's live tokens (not revoked), newest first.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenList {
    pub tokens: Vec<TokenView>,
}

/// What an account has spent, over all its runs.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserUsage {
    #[ts(type = "number")]
    pub runs: i64,
    #[ts(type = "number")]
    pub failed_runs: i64,
    #[ts(type = "number")]
    pub input_tokens: i64,
    #[ts(type = "number")]
    pub output_tokens: i64,
    pub cost_usd: f64,
    pub last_run_at: Option<DateTime<Utc>>,
}

/// A user as an admin sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AdminUserView {
    pub id: Uuid,
    pub email: String,
    pub role: Role,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
    pub usage: UserUsage,
}

/// `GET /admin/users`.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AdminUserList {
    pub users: Vec<AdminUserView>,
}

/// `PATCH /admin/users/{id}`. Disabling cuts the user off at once (logins, tokens, open
/// WebSockets) and cancels their queued runs. An admin cannot disable or demote themselves.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(example = json!({"role": "member"}))
)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    #[serde(default)]
    #[ts(optional)]
    pub disabled: Option<bool>,
    #[serde(default)]
    #[ts(optional)]
    pub role: Option<Role>,
}

/// `POST /admin/invites`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(example = json!({"email": "grace@example.com", "role": "member", "expires_in_days": 7}))
)]
#[serde(deny_unknown_fields)]
pub struct CreateInviteRequest {
    /// If set, only this address may use the invite.
    #[serde(default)]
    #[ts(optional)]
    pub email: Option<String>,
    /// The new account's role (default member).
    #[serde(default)]
    #[ts(optional)]
    pub role: Option<Role>,
    /// Days until it expires (default 7, at most [`MAX_EXPIRY_DAYS`]).
    #[serde(default)]
    #[ts(optional)]
    pub expires_in_days: Option<u32>,
}

/// An invite as listed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InviteView {
    pub id: Uuid,
    pub email: Option<String>,
    pub role: Role,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
}

/// The answer to `POST /admin/invites`: the single-use token and its link, shown this once.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedInvite {
    pub token: String,
    /// `PUBLIC_URL` + `/login?invite=<token>`.
    pub url: String,
    pub invite: InviteView,
}

/// `GET /admin/invites`: unused, unexpired invites first, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InviteList {
    pub invites: Vec<InviteView>,
}

/// The answer to `POST /admin/users/{id}/password-reset`: a one-time link, shown this once.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PasswordResetLink {
    pub token: String,
    /// `PUBLIC_URL` + `/login?reset=<token>`.
    pub url: String,
    pub expires_at: DateTime<Utc>,
}
