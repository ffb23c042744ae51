//! What a route needs of a credential: one table from (method, path) to a requirement, so a new
//! route is covered by the rule of its kind rather than by a line someone must remember.
//!
//! * `/admin/…`: the `admin` scope (an admin's sign-in, or an admin's token that holds it);
//!   among them `/admin/usage`, every user's usage (`/usage` is the caller's own: `sessions:read`).
//! * `/tokens…` and `/auth/password`: a sign-in (browser login or the CLI's password login); an
//!   API token cannot mint tokens or change the password.
//! * `/auth/me`, `/auth/logout`: any valid credential.
//! * `GET` of a run's files (`/runs/{id}/files…`, `/runs/{id}/archive`, `/runs/{id}/diff`,
//!   `/runs/{id}/content`):
//!   `files:read`.
//! * Any other `GET` (and the WebSocket): `sessions:read` — `/search` too: its file hits are
//!   the paths of `file_changes` events, which a session's events already show.
//! * Every other method: `tasks:write`.

use http::Method;
use protocol::accounts::{Role, Scope};

/// A set of scopes (a bit per [`Scope`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Scopes(u8);

impl Scopes {
    pub const NONE: Scopes = Scopes(0);

    const fn bit(s: Scope) -> u8 {
        match s {
            Scope::TasksWrite => 1,
            Scope::SessionsRead => 2,
            Scope::FilesRead => 4,
            Scope::Admin => 8,
        }
    }

    /// Everything a role's sign-in may do.
    pub fn of_role(role: Role) -> Self {
        let all = Scopes::from_iter(Scope::ALL);
        match role {
            Role::Admin => all,
            Role::Member => all.without(Scope::Admin),
        }
    }

    pub fn contains(self, s: Scope) -> bool {
        self.0 & Self::bit(s) != 0
    }

    pub fn without(self, s: Scope) -> Self {
        Scopes(self.0 & !Self::bit(s))
    }

    /// The scopes both sets hold (a token's scopes within what its owner's role allows now).
    pub fn intersect(self, other: Scopes) -> Self {
        Scopes(self.0 & other.0)
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// In [`Scope::ALL`]'s order.
    pub fn to_vec(self) -> Vec<Scope> {
        Scope::ALL
            .into_iter()
            .filter(|s| self.contains(*s))
            .collect()
    }
}

impl FromIterator<Scope> for Scopes {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        Scopes(iter.into_iter().fold(0, |acc, s| acc | Scopes::bit(s)))
    }
}

/// What a request needs of its credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requirement {
    /// Any valid credential.
    Any,
    /// A sign-in, not an API token.
    SignIn,
    Scope(Scope),
}

/// The requirement of a public route; `path` is relative to `/api/v1` (`/sessions/…`).
pub fn required(method: &Method, path: &str) -> Requirement {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segments.as_slice() {
        ["admin", ..] => Requirement::Scope(Scope::Admin),
        ["tokens", ..] | ["auth", "password"] => Requirement::SignIn,
        ["auth", "me" | "logout"] => Requirement::Any,
        ["runs", _, "files" | "archive" | "diff" | "content", ..] if method == Method::GET => {
            Requirement::Scope(Scope::FilesRead)
        }
        _ if method == Method::GET || method == Method::HEAD => {
            Requirement::Scope(Scope::SessionsRead)
        }
        _ => Requirement::Scope(Scope::TasksWrite),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_need_the_scope_of_their_kind() {
        let cases = [
            (
                Method::POST,
                "/tasks",
                Requirement::Scope(Scope::TasksWrite),
            ),
            (
                Method::GET,
                "/sessions",
                Requirement::Scope(Scope::SessionsRead),
            ),
            (Method::GET, "/ws", Requirement::Scope(Scope::SessionsRead)),
            (
                Method::GET,
                "/search",
                Requirement::Scope(Scope::SessionsRead),
            ),
            (
                Method::PATCH,
                "/sessions/x",
                Requirement::Scope(Scope::TasksWrite),
            ),
            (
                Method::GET,
                "/sessions/x/events",
                Requirement::Scope(Scope::SessionsRead),
            ),
            (
                Method::POST,
                "/sessions/x/cancel",
                Requirement::Scope(Scope::TasksWrite),
            ),
            (
                Method::DELETE,
                "/sessions/x",
                Requirement::Scope(Scope::TasksWrite),
            ),
            (
                Method::GET,
                "/runs/x/files",
                Requirement::Scope(Scope::FilesRead),
            ),
            (
                Method::GET,
                "/runs/x/files/a/b.txt",
                Requirement::Scope(Scope::FilesRead),
            ),
            (
                Method::GET,
                "/runs/x/archive",
                Requirement::Scope(Scope::FilesRead),
            ),
            (
                Method::GET,
                "/runs/x",
                Requirement::Scope(Scope::SessionsRead),
            ),
            (
                Method::GET,
                "/runs/x/diff",
                Requirement::Scope(Scope::FilesRead),
            ),
            (
                Method::GET,
                "/runs/x/content",
                Requirement::Scope(Scope::FilesRead),
            ),
            (
                Method::GET,
                "/usage",
                Requirement::Scope(Scope::SessionsRead),
            ),
            (
                Method::GET,
                "/admin/usage",
                Requirement::Scope(Scope::Admin),
            ),
            (
                Method::GET,
                "/admin/users",
                Requirement::Scope(Scope::Admin),
            ),
            (
                Method::POST,
                "/admin/invites",
                Requirement::Scope(Scope::Admin),
            ),
            (Method::POST, "/tokens", Requirement::SignIn),
            (Method::DELETE, "/tokens/x", Requirement::SignIn),
            (Method::GET, "/tokens", Requirement::SignIn),
            (Method::POST, "/auth/password", Requirement::SignIn),
            (Method::GET, "/auth/me", Requirement::Any),
            (Method::POST, "/auth/logout", Requirement::Any),
        ];
        for (method, path, want) in cases {
            assert_eq!(required(&method, path), want, "{method} {path}");
        }
    }

    #[test]
    fn a_member_sign_in_holds_everything_but_admin() {
        let m = Scopes::of_role(Role::Member);
        assert!(m.contains(Scope::TasksWrite) && m.contains(Scope::FilesRead));
        assert!(!m.contains(Scope::Admin));
        assert!(Scopes::of_role(Role::Admin).contains(Scope::Admin));
        let token: Scopes = [Scope::Admin, Scope::SessionsRead].into_iter().collect();
        assert_eq!(token.intersect(m).to_vec(), vec![Scope::SessionsRead]);
        assert!(Scopes::NONE.is_empty());
    }
}
