//! The sets of run statuses the backend filters on, each as a `&[RunStatus]` and as the SQL list
//! that SQL statements spell.
//!
//! The SQL forms are macros expanding to string literals so that statements built with `concat!`
//! stay `&'static str` and the planner sees the list as written: a partial index such as
//! `runs_unfinished_by_session` (`WHERE status IN (...)`) is used only when the query's list is a
//! literal it can match, never for a parameter (`status = ANY($1)` would get a generic plan).
//! The tests below check each SQL form against its set, each set against [`RunStatus`]'s own
//! predicates, and the migrations' index and trigger lists against the sets.

use protocol::RunStatus;

use crate::error::{ApiError, ApiResult};

/// Unfinished: queued or leased. A session with an active run has its line busy: a follow-up
/// waits behind it, retention never touches it, its attachments stay in use.
pub const ACTIVE: &[RunStatus] = &[
    RunStatus::Queued,
    RunStatus::Claimed,
    RunStatus::Running,
    RunStatus::Canceling,
];

/// Held by a worker under a lease (`RunStatus::is_leased`): what the fence and the reaper act on.
pub const LEASED: &[RunStatus] = &[RunStatus::Claimed, RunStatus::Running, RunStatus::Canceling];

/// Leased and not yet asked to stop: the runs a cancel request turns into `canceling`.
pub const WORKING: &[RunStatus] = &[RunStatus::Claimed, RunStatus::Running];

/// Final (`RunStatus::is_terminal`): a run in one of these never changes again, unless its owner
/// retries a failed one.
pub const FINAL: &[RunStatus] = &[RunStatus::Completed, RunStatus::Failed, RunStatus::Canceled];

/// [`ACTIVE`] as an SQL list.
macro_rules! active_sql {
    () => {
        "('queued', 'claimed', 'running', 'canceling')"
    };
}

/// [`LEASED`] as an SQL list.
macro_rules! leased_sql {
    () => {
        "('claimed', 'running', 'canceling')"
    };
}

/// [`WORKING`] as an SQL list.
macro_rules! working_sql {
    () => {
        "('claimed', 'running')"
    };
}

pub(crate) use active_sql;
pub(crate) use leased_sql;
pub(crate) use working_sql;

/// [`ACTIVE`] as an SQL list, for statements built with `format!`.
pub const ACTIVE_SQL: &str = active_sql!();
/// [`LEASED`] as an SQL list.
pub const LEASED_SQL: &str = leased_sql!();

/// A status read back from `runs.status`; an unknown one is the database's fault (500).
pub fn parse(stored: &str) -> ApiResult<RunStatus> {
    stored
        .parse()
        .map_err(|e| ApiError::Internal(format!("stored run status: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SQL spelling of a set: `('a', 'b')`.
    fn sql_list(set: &[RunStatus]) -> String {
        let names: Vec<String> = set.iter().map(|s| format!("'{}'", s.as_str())).collect();
        format!("({})", names.join(", "))
    }

    fn of(pred: fn(RunStatus) -> bool) -> Vec<RunStatus> {
        RunStatus::ALL.into_iter().filter(|s| pred(*s)).collect()
    }

    #[test]
    fn the_sql_forms_spell_their_sets() {
        assert_eq!(active_sql!(), sql_list(ACTIVE));
        assert_eq!(leased_sql!(), sql_list(LEASED));
        assert_eq!(working_sql!(), sql_list(WORKING));
        assert_eq!(ACTIVE_SQL, sql_list(ACTIVE));
        assert_eq!(LEASED_SQL, sql_list(LEASED));
    }

    #[test]
    fn the_sets_follow_the_status_enum() {
        assert_eq!(ACTIVE, of(|s| !s.is_terminal()));
        assert_eq!(LEASED, of(RunStatus::is_leased));
        assert_eq!(FINAL, of(RunStatus::is_terminal));
        assert_eq!(WORKING, of(|s| s.is_leased() && s != RunStatus::Canceling));
    }

    /// Every migration, in order, as one text.
    fn migrations() -> String {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .expect("the migrations directory")
            .map(|e| e.expect("a migration").path())
            .filter(|p| p.extension().is_some_and(|x| x == "sql"))
            .collect();
        files.sort();
        files
            .iter()
            .map(|p| std::fs::read_to_string(p).expect("a readable migration"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Whitespace runs collapsed to one space, so anchors do not depend on line breaks.
    fn squeeze(sql: &str) -> String {
        sql.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    /// The statuses of the `IN (...)` list right after the last occurrence of `anchor` (the
    /// latest definition wins, as when the migrations are applied).
    fn list_after(sql: &str, anchor: &str) -> Vec<RunStatus> {
        let at = sql
            .rfind(anchor)
            .unwrap_or_else(|| panic!("`{anchor}` not found in the migrations"));
        let rest = sql[at + anchor.len()..]
            .trim_start()
            .strip_prefix("IN (")
            .unwrap_or_else(|| panic!("no IN list right after `{anchor}`"));
        let list = &rest[..rest.find(')').expect("the end of the IN list")];
        list.split(',')
            .map(|name| {
                name.trim()
                    .trim_matches('\'')
                    .parse()
                    .unwrap_or_else(|e| panic!("{anchor}: {e}"))
            })
            .collect()
    }

    #[test]
    fn the_migrations_index_and_trigger_lists_agree_with_the_sets() {
        let sql = squeeze(&migrations());
        let cases: [(&str, &[RunStatus]); 6] = [
            // The CHECK constraint of runs.status: every status there is.
            (
                "status text NOT NULL DEFAULT 'queued' CHECK (status",
                &RunStatus::ALL,
            ),
            (
                "CREATE INDEX runs_unfinished_by_session ON runs (session_id, queue_pos) WHERE status",
                ACTIVE,
            ),
            (
                "CREATE INDEX runs_lease_expiry ON runs (lease_expires_at) WHERE status",
                LEASED,
            ),
            // runs_after_change: a run ended …
            ("IF NEW.status", FINAL),
            // … the next of its session becomes ready when none is leased (or queued and ready) …
            ("WHERE session_id = NEW.session_id AND (status", LEASED),
            // … and the session's status is that of its first active run.
            ("WHERE r.session_id = NEW.session_id AND r.status", ACTIVE),
        ];
        for (anchor, set) in cases {
            assert_eq!(list_after(&sql, anchor), set, "{anchor}");
        }
    }
}
