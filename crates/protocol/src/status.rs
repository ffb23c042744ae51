//! Lifecycle states of runs and sessions, and the agent's permission modes.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use ts_rs::TS;

/// Where a run is in its life.
///
/// ```text
/// queued ──claim──▶ claimed ──start──▶ running ──complete──▶ completed
///   ▲                  │                  │      ──fail─────▶ failed
///   └──lease expired───┴──────────────────┘      ──cancel───▶ canceled
/// claimed/running ──cancel requested──▶ canceling ──▶ canceled
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Queued,
    Claimed,
    Running,
    Canceling,
    Completed,
    Failed,
    Canceled,
}

impl RunStatus {
    pub const ALL: [RunStatus; 7] = [
        RunStatus::Queued,
        RunStatus::Claimed,
        RunStatus::Running,
        RunStatus::Canceling,
        RunStatus::Completed,
        RunStatus::Failed,
        RunStatus::Canceled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "queued",
            RunStatus::Claimed => "claimed",
            RunStatus::Running => "running",
            RunStatus::Canceling => "canceling",
            RunStatus::Completed => "completed",
            RunStatus::Failed => "failed",
            RunStatus::Canceled => "canceled",
        }
    }

    /// A terminal run never changes again.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            RunStatus::Completed | RunStatus::Failed | RunStatus::Canceled
        )
    }

    /// Held by a worker under a lease.
    pub fn is_leased(self) -> bool {
        matches!(
            self,
            RunStatus::Claimed | RunStatus::Running | RunStatus::Canceling
        )
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The string was not one of the known status names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownStatus(pub String);

impl fmt::Display for UnknownStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown status `{}`", self.0)
    }
}

impl std::error::Error for UnknownStatus {}

impl FromStr for RunStatus {
    type Err = UnknownStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RunStatus::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

/// A session's status is the status of its latest run (`idle` before its first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    Idle,
    Queued,
    Running,
    Canceling,
    Completed,
    Failed,
    Canceled,
}

impl SessionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Idle => "idle",
            SessionStatus::Queued => "queued",
            SessionStatus::Running => "running",
            SessionStatus::Canceling => "canceling",
            SessionStatus::Completed => "completed",
            SessionStatus::Failed => "failed",
            SessionStatus::Canceled => "canceled",
        }
    }
}

impl From<RunStatus> for SessionStatus {
    fn from(s: RunStatus) -> Self {
        match s {
            RunStatus::Queued => SessionStatus::Queued,
            RunStatus::Claimed | RunStatus::Running => SessionStatus::Running,
            RunStatus::Canceling => SessionStatus::Canceling,
            RunStatus::Completed => SessionStatus::Completed,
            RunStatus::Failed => SessionStatus::Failed,
            RunStatus::Canceled => SessionStatus::Canceled,
        }
    }
}

impl FromStr for SessionStatus {
    type Err = UnknownStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            SessionStatus::Idle,
            SessionStatus::Queued,
            SessionStatus::Running,
            SessionStatus::Canceling,
            SessionStatus::Completed,
            SessionStatus::Failed,
            SessionStatus::Canceled,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
        .ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

/// How the agent may use its tools. The container is the sandbox, so the platform's default is
/// `bypass_permissions`: a run must never stall on a prompt nobody can answer. `plan` keeps the
/// agent to read-only tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum PermissionMode {
    #[serde(rename = "default")]
    Default,
    #[serde(rename = "acceptEdits")]
    AcceptEdits,
    #[serde(rename = "plan")]
    Plan,
    #[serde(rename = "bypassPermissions")]
    #[default]
    BypassPermissions,
}

impl PermissionMode {
    /// The value of the Claude Code CLI's `--permission-mode` flag.
    pub fn as_cli_flag(self) -> &'static str {
        match self {
            PermissionMode::Default => "default",
            PermissionMode::AcceptEdits => "acceptEdits",
            PermissionMode::Plan => "plan",
            PermissionMode::BypassPermissions => "bypassPermissions",
        }
    }
}

/// How a worker ended a run that did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RunOutcome {
    #[default]
    Completed,
    Canceled,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_status_round_trips_through_its_name() {
        for s in RunStatus::ALL {
            assert_eq!(s.as_str().parse::<RunStatus>(), Ok(s));
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
        }
        assert!("bogus".parse::<RunStatus>().is_err());
    }

    #[test]
    fn terminal_and_leased_partition_the_non_queued_states() {
        for s in RunStatus::ALL {
            if s == RunStatus::Queued {
                assert!(!s.is_terminal() && !s.is_leased());
            } else {
                assert!(s.is_terminal() ^ s.is_leased(), "{s}");
            }
        }
    }

    #[test]
    fn permission_mode_uses_the_cli_spelling() {
        let m: PermissionMode = serde_json::from_str("\"acceptEdits\"").unwrap();
        assert_eq!(m, PermissionMode::AcceptEdits);
        assert_eq!(PermissionMode::default().as_cli_flag(), "bypassPermissions");
    }
}
