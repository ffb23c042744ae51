//! The human in the loop: a run that waits for a person (a tool that needs permission, a
//! question the agent asks, a plan to approve), the person's answer, and the queue of follow-ups
//! waiting behind an active run.
//!
//! The round trip: the CLI (run with `--permission-prompt-tool stdio`) writes a `control_request`
//! of subtype `can_use_tool` ([`cli::CanUseTool`]); the executor gives it a fresh id and emits an
//! [`InputRequest`] event, stored in order like any event (the backend keeps its state from
//! it); the owner answers with `POST /input-requests/{id}/answer` ([`AnswerInputRequest`]); the
//! manager, long-polling `POST /internal/runs/{id}/input-answers` ([`InputAnswersPoll`]) while its
//! run has a request pending, hands the [`InputAnswer`] to its executor
//! (`POST /v1/tasks/{run_id}/input-answers`), which writes the CLI's `control_response`
//! ([`cli::PermissionResult`]) and emits the answer as an `input_answer` event. An unanswered
//! request expires at `expires_at`: the executor denies it with a message the agent sees.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use ts_rs::TS;
use uuid::Uuid;

use crate::status::PermissionMode;

/// The tool the CLI uses to ask the user questions.
pub const ASK_USER_QUESTION_TOOL: &str = "AskUserQuestion";
/// The tool the CLI uses (in `plan` mode) to ask for its plan's approval.
pub const EXIT_PLAN_MODE_TOOL: &str = "ExitPlanMode";

/// The longest wait, in seconds, for a plan's approval when no timeout is configured.
pub const DEFAULT_PLAN_TIMEOUT_SECONDS: u32 = 600;
/// The longest wait, in seconds, for any other request when no timeout is configured.
pub const DEFAULT_TIMEOUT_SECONDS: u32 = 300;

/// What the agent waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum InputKind {
    /// A tool call that needs the user's permission.
    Permission,
    /// The `AskUserQuestion` tool: questions with options.
    Question,
    /// The `ExitPlanMode` tool: a plan to approve.
    Plan,
}

impl InputKind {
    /// The kind of a `can_use_tool` request for this tool.
    pub fn of_tool(tool_name: &str) -> Self {
        match tool_name {
            ASK_USER_QUESTION_TOOL => InputKind::Question,
            EXIT_PLAN_MODE_TOOL => InputKind::Plan,
            _ => InputKind::Permission,
        }
    }

    /// The default wait for this kind, in seconds.
    pub fn default_timeout_seconds(self) -> u32 {
        match self {
            InputKind::Plan => DEFAULT_PLAN_TIMEOUT_SECONDS,
            _ => DEFAULT_TIMEOUT_SECONDS,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            InputKind::Permission => "permission",
            InputKind::Question => "question",
            InputKind::Plan => "plan",
        }
    }
}

/// One question of an `AskUserQuestion` call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Question {
    /// The full question; the key of its answer.
    pub question: String,
    /// A short label for it (a chip or tab title).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    #[serde(default)]
    pub multi_select: bool,
    #[serde(default)]
    pub options: Vec<QuestionOption>,
}

/// One choice offered for a question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QuestionOption {
    pub label: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// The `input_request` event: the agent waits for a person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InputRequest {
    /// Made by the executor (not the CLI's own id); the id of `POST /input-requests/{id}/answer`.
    pub request_id: Uuid,
    pub kind: InputKind,
    pub tool_name: String,
    /// The tool call waiting, when the CLI names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_use_id: Option<String>,
    /// The tool's input as the CLI would run it.
    pub input: Value,
    /// What the call does, in the CLI's words (e.g. a Bash command's description).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The path the call would touch, when the CLI names one (a file in the workspace too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocked_path: Option<String>,
    /// `question`: the questions, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub questions: Vec<Question>,
    /// `plan`: the plan, as Markdown (from the `ExitPlanMode` call).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    pub expires_at: DateTime<Utc>,
}

/// Allow or deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum InputDecision {
    Allow,
    Deny,
}

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum InputOutcome {
    /// A person answered.
    Answered,
    /// Nobody answered in time; the executor denied it.
    Expired,
    /// The run ended (canceled, failed, lost) before an answer.
    Canceled,
}

/// The state of a request, as the backend keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum InputRequestStatus {
    Pending,
    Answered,
    Expired,
    Canceled,
}

impl InputRequestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            InputRequestStatus::Pending => "pending",
            InputRequestStatus::Answered => "answered",
            InputRequestStatus::Expired => "expired",
            InputRequestStatus::Canceled => "canceled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(InputRequestStatus::Pending),
            "answered" => Some(InputRequestStatus::Answered),
            "expired" => Some(InputRequestStatus::Expired),
            "canceled" => Some(InputRequestStatus::Canceled),
            _ => None,
        }
    }
}

/// `POST /input-requests/{id}/answer`. Answering twice → 409 `already_answered`; after
/// `expires_at` (or once the run ended) → 410 `request_expired`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(example = json!({"decision": "allow", "always": false}))
)]
#[serde(deny_unknown_fields)]
pub struct AnswerInputRequest {
    pub decision: InputDecision,
    /// `deny`: what the agent is told (the reason, or feedback on a plan). `allow`: ignored.
    #[serde(default)]
    pub message: Option<String>,
    /// `permission`, `allow`: the tool input to run instead of the agent's (an edited command).
    #[serde(default)]
    pub updated_input: Option<Value>,
    /// `question`: the answer to each question, keyed by its full text (several labels of a
    /// multi-select question joined with `", "`; free text allowed).
    #[serde(default)]
    pub answers: BTreeMap<String, String>,
    /// `permission`, `allow`: allow this tool without asking for the rest of the session.
    #[serde(default)]
    pub always: bool,
    /// `plan`, `allow`: the permission mode for the rest of the run and the session's later
    /// runs (`acceptEdits` or `bypassPermissions`; `acceptEdits` when absent).
    #[serde(default)]
    pub mode: Option<PermissionMode>,
}

/// An answer as it reaches the executor, and the `input_answer` event that records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InputAnswer {
    pub request_id: Uuid,
    pub outcome: InputOutcome,
    pub decision: InputDecision,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_input: Option<Value>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub answers: BTreeMap<String, String>,
    #[serde(default)]
    pub always: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<PermissionMode>,
    /// Who answered (their email); `None` for an expiry or a cancel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered_by: Option<String>,
    pub answered_at: DateTime<Utc>,
}

impl InputAnswer {
    /// The record of a request nobody answered (outcome `expired` or `canceled`): a denial with
    /// `message`, answered by no one, at `at`.
    pub fn unanswered(
        request_id: Uuid,
        outcome: InputOutcome,
        message: &str,
        at: DateTime<Utc>,
    ) -> Self {
        InputAnswer {
            request_id,
            outcome,
            decision: InputDecision::Deny,
            message: Some(message.to_owned()),
            updated_input: None,
            answers: BTreeMap::new(),
            always: false,
            mode: None,
            answered_by: None,
            answered_at: at,
        }
    }
}

/// `GET /sessions/{id}/input-requests[?status=pending]`: one request and its state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InputRequestView {
    pub id: Uuid,
    pub run_id: Uuid,
    pub session_id: Uuid,
    pub status: InputRequestStatus,
    pub request: InputRequest,
    #[serde(default)]
    pub answer: Option<InputAnswer>,
    pub created_at: DateTime<Utc>,
}

/// `GET /sessions/{id}/input-requests`: oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InputRequestList {
    pub requests: Vec<InputRequestView>,
}

/// A follow-up waiting behind the session's active run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QueuedRunView {
    pub run_id: Uuid,
    pub prompt: String,
    /// 1 for the next to run.
    pub position: i32,
    pub created_at: DateTime<Utc>,
}

/// `GET /sessions/{id}/queue`: the queued follow-ups in the order they will run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionQueue {
    pub runs: Vec<QueuedRunView>,
}

/// `PATCH /sessions/{id}/queue/{run_id}`: a queued follow-up's new prompt (409 `not_queued` once
/// it started).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(example = json!({"prompt": "Then add a test for it."}))
)]
#[serde(deny_unknown_fields)]
pub struct UpdateQueuedRunRequest {
    pub prompt: String,
}

/// `POST /internal/runs/{id}/input-answers`: long-polls up to `wait_seconds` for answers to the
/// run's requests that the manager has not handed over yet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct InputAnswersPoll {
    pub worker_id: String,
    pub epoch: i64,
    #[serde(default)]
    pub wait_seconds: u32,
    /// Requests whose answers this manager already handed to its executor.
    #[serde(default)]
    pub delivered: Vec<Uuid>,
}

/// The answer to [`InputAnswersPoll`]: answered requests of the run not in `delivered` (empty
/// after the wait), and whether any request of the run is still pending.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InputAnswers {
    pub answers: Vec<InputAnswer>,
    pub pending: u32,
}

/// The Claude Code CLI's control protocol, as far as the executor speaks it (checked against
/// CLI 2.1.330 by `crates/executor/tests/control.rs`).
///
/// Started with `--input-format stream-json --permission-prompt-tool stdio`, the CLI writes
/// `{"type":"control_request","request_id":R,"request":{"subtype":"can_use_tool",…}}` on stdout
/// and waits for `{"type":"control_response","response":{"subtype":"success","request_id":R,
/// "response":<PermissionResult>}}` on stdin. Stdin must stay open until the `result` line.
pub mod cli {
    use super::*;

    /// A `control_request` line from the CLI.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct ControlRequest {
        pub request_id: String,
        pub request: Value,
    }

    /// The `request` of a `can_use_tool` control request.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct CanUseTool {
        pub tool_name: String,
        #[serde(default)]
        pub input: Value,
        #[serde(default)]
        pub tool_use_id: Option<String>,
        #[serde(default)]
        pub description: Option<String>,
        #[serde(default)]
        pub blocked_path: Option<String>,
        /// `AskUserQuestion` and `ExitPlanMode` are asked even under `bypassPermissions`.
        #[serde(default)]
        pub requires_user_interaction: bool,
        /// What the CLI would offer to remember (kept for the record, not offered as is).
        #[serde(default)]
        pub permission_suggestions: Vec<Value>,
    }

    /// The answer to `can_use_tool`.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[serde(tag = "behavior", rename_all = "lowercase")]
    pub enum PermissionResult {
        Allow {
            /// The input to run (the CLI wants it even when unchanged; for `AskUserQuestion`
            /// it carries `answers`: question text → answer).
            #[serde(rename = "updatedInput")]
            updated_input: Value,
            /// E.g. `{"type":"addRules","rules":[{"toolName":T}],"behavior":"allow",
            /// "destination":"session"}` or `{"type":"setMode","mode":M,"destination":"session"}`.
            #[serde(
                rename = "updatedPermissions",
                default,
                skip_serializing_if = "Vec::is_empty"
            )]
            updated_permissions: Vec<Value>,
        },
        Deny {
            message: String,
            /// Stop the whole turn, not just this call.
            #[serde(default, skip_serializing_if = "std::ops::Not::not")]
            interrupt: bool,
        },
    }

    /// The line written back on stdin.
    pub fn control_response(request_id: &str, result: &PermissionResult) -> Value {
        serde_json::json!({
            "type": "control_response",
            "response": {
                "subtype": "success",
                "request_id": request_id,
                "response": result,
            }
        })
    }

    /// An error answer to a control request the executor does not handle.
    pub fn control_error(request_id: &str, error: &str) -> Value {
        serde_json::json!({
            "type": "control_response",
            "response": {
                "subtype": "error",
                "request_id": request_id,
                "error": error,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_follow_the_tool() {
        assert_eq!(InputKind::of_tool("AskUserQuestion"), InputKind::Question);
        assert_eq!(InputKind::of_tool("ExitPlanMode"), InputKind::Plan);
        assert_eq!(InputKind::of_tool("Bash"), InputKind::Permission);
        assert_eq!(InputKind::Plan.default_timeout_seconds(), 600);
        assert_eq!(InputKind::Question.default_timeout_seconds(), 300);
    }

    #[test]
    fn the_cli_shapes_round_trip() {
        let line = r#"{"subtype":"can_use_tool","tool_name":"Bash","display_name":"Bash","input":{"command":"echo hi > a.txt","description":"write"},"description":"write","permission_suggestions":[{"type":"addRules","rules":[{"toolName":"Bash","ruleContent":"echo hi *"}],"behavior":"allow","destination":"localSettings"}],"blocked_path":"/w/a.txt","tool_use_id":"toolu_1"}"#;
        let req: cli::CanUseTool = serde_json::from_str(line).expect("parse");
        assert_eq!(req.tool_name, "Bash");
        assert_eq!(req.tool_use_id.as_deref(), Some("toolu_1"));
        assert_eq!(req.blocked_path.as_deref(), Some("/w/a.txt"));
        let allow = cli::PermissionResult::Allow {
            updated_input: req.input.clone(),
            updated_permissions: vec![],
        };
        let v = cli::control_response("r1", &allow);
        assert_eq!(v["response"]["response"]["behavior"], "allow");
        assert_eq!(
            v["response"]["response"]["updatedInput"]["command"],
            "echo hi > a.txt"
        );
        assert!(
            v["response"]["response"]
                .get("updatedPermissions")
                .is_none()
        );
        let deny = cli::PermissionResult::Deny {
            message: "no".into(),
            interrupt: false,
        };
        let v = cli::control_response("r1", &deny);
        assert_eq!(
            v["response"]["response"],
            serde_json::json!({"behavior":"deny","message":"no"})
        );
    }

    #[test]
    fn an_answer_body_refuses_unknown_fields() {
        let ok: AnswerInputRequest =
            serde_json::from_str(r#"{"decision":"allow","always":true}"#).expect("parse");
        assert!(ok.always);
        assert!(serde_json::from_str::<AnswerInputRequest>(r#"{"decision":"maybe"}"#).is_err());
        assert!(
            serde_json::from_str::<AnswerInputRequest>(r#"{"decision":"deny","x":1}"#).is_err()
        );
    }
}
