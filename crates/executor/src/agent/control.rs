//! The CLI's control requests: a tool call waiting for a person, its answer, its expiry.
//!
//! The CLI runs with `--permission-prompt-tool stdio`: a tool call that needs permission (and
//! every `AskUserQuestion` / `ExitPlanMode` call) becomes a `control_request` of subtype
//! `can_use_tool` on its stdout, and the CLI waits for the `control_response` on its stdin.
//! [`Controls`] holds a run's pending requests (the executor's request id → the CLI's request id,
//! kind, tool, original input, expiry timer) and is the one place that answers them:
//!
//! - [`Controls::open`]: a `can_use_tool` becomes a pending request and an `input_request` event
//!   (a fresh request id; questions parsed from the input; the plan from the `ExitPlanMode`
//!   tool_use; `expires_at` = now + the run's `input_timeout_seconds` or the kind's default);
//!   any other subtype is answered with a `control_error` at once (the CLI never waits for
//!   nothing);
//! - [`Controls::answer`] (`POST /v1/tasks/{run_id}/input-answers`): the answer translated into
//!   the CLI's [`PermissionResult`], written to stdin, and emitted as an `input_answer` event;
//! - the expiry timer: a deny the agent reads, and an `input_answer` with outcome `expired`;
//! - [`Controls::close`] (the `result` line, a stop, the end of the process): every request
//!   still pending gets an `input_answer` with outcome `canceled`, and stdin is closed.
//!
//! Each request is resolved exactly once, under one lock: whichever of answer, expiry and close
//! takes it from the pending map writes the only `control_response` and the only `input_answer`;
//! the others find it resolved (`409 already_answered`). Events go out through one channel in
//! the order they were decided, which the agent's reader forwards to the run's event sink.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use protocol::PermissionMode;
use protocol::event::EventBody;
use protocol::input::cli::{self, CanUseTool, ControlRequest, PermissionResult};
use protocol::input::{
    InputAnswer, InputDecision, InputKind, InputOutcome, InputRequest, Question, QuestionOption,
};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;
use tracing::{debug, info, warn};
use uuid::Uuid;

/// What the agent is told when the user denies a tool call without a message.
pub const DEFAULT_DENY_MESSAGE: &str = "The user denied this tool call.";
/// What the agent is told when the user rejects its plan (the feedback follows).
pub const DEFAULT_PLAN_DENY_MESSAGE: &str = "The user wants to keep planning.";
/// What the CLI is told when the run ends while it waits.
const CANCELED_MESSAGE: &str = "The run ended before anyone answered.";

/// Why an answer was not taken.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AnswerError {
    #[error("no input request {0} in this run")]
    NotFound(Uuid),
    #[error("input request {0} is no longer pending (answered, expired or its run ended)")]
    AlreadyAnswered(Uuid),
}

/// What the writer task does with the CLI's stdin.
#[derive(Debug)]
pub enum StdinMessage {
    /// One line (with its newline).
    Line(Vec<u8>),
    /// Close stdin: the CLI finishes once it has nothing left to do.
    Close,
}

/// A `control_request` line of the CLI, with the input of the tool call it names when the
/// stream parser remembered it (the plan of `ExitPlanMode` is only there).
#[derive(Debug, Clone, PartialEq)]
pub struct ControlLine {
    pub request: ControlRequest,
    pub tool_input: Option<Value>,
}

/// A request waiting for its answer.
struct Pending {
    cli_request_id: String,
    kind: InputKind,
    tool_name: String,
    input: Value,
    timer: Option<AbortHandle>,
}

/// Where decisions go while the agent runs.
struct Outlet {
    stdin: mpsc::UnboundedSender<StdinMessage>,
    events: mpsc::UnboundedSender<EventBody>,
}

#[derive(Default)]
struct State {
    pending: HashMap<Uuid, Pending>,
    resolved: HashSet<Uuid>,
    outlet: Option<Outlet>,
}

/// The control requests of one run (shared by the agent's reader, the API and the timers).
pub struct Controls {
    timeout_seconds: Option<u32>,
    state: Mutex<State>,
}

impl Controls {
    /// `timeout_seconds`: the run's `input_timeout_seconds` (`None`: the kind's default).
    pub fn new(timeout_seconds: Option<u32>) -> Arc<Self> {
        Arc::new(Self {
            timeout_seconds,
            state: Mutex::new(State::default()),
        })
    }

    /// Connects the running agent: its stdin writer and the channel its reader forwards to the
    /// run's events.
    pub fn attach(
        &self,
        stdin: mpsc::UnboundedSender<StdinMessage>,
        events: mpsc::UnboundedSender<EventBody>,
    ) {
        self.lock().outlet = Some(Outlet { stdin, events });
    }

    /// How many requests wait for an answer.
    pub fn pending(&self) -> usize {
        self.lock().pending.len()
    }

    /// Takes a `control_request` of the CLI.
    pub fn open(self: &Arc<Self>, line: ControlLine) {
        let ControlLine {
            request,
            tool_input,
        } = line;
        let cli_id = request.request_id.clone();
        let subtype = request
            .request
            .get("subtype")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if subtype != "can_use_tool" {
            warn!(subtype, "the agent sent a control request the executor does not handle");
            self.write(cli::control_error(
                &cli_id,
                &format!("the executor does not handle control requests of subtype `{subtype}`"),
            ));
            return;
        }
        let call: CanUseTool = match serde_json::from_value(request.request) {
            Ok(c) => c,
            Err(e) => {
                warn!(error = %e, "the agent sent a can_use_tool request the executor cannot read");
                self.write(cli::control_error(
                    &cli_id,
                    &format!("unreadable can_use_tool request: {e}"),
                ));
                return;
            }
        };
        let kind = InputKind::of_tool(&call.tool_name);
        let seconds = self
            .timeout_seconds
            .unwrap_or_else(|| kind.default_timeout_seconds());
        let expires_at = Utc::now() + chrono::Duration::seconds(i64::from(seconds));
        let questions = match kind {
            InputKind::Question => parse_questions(&call.input),
            _ => Vec::new(),
        };
        let plan = match kind {
            InputKind::Plan => str_of(&call.input, "plan")
                .or_else(|| tool_input.as_ref().and_then(|i| str_of(i, "plan"))),
            _ => None,
        };
        let request_id = Uuid::new_v4();
        let event = InputRequest {
            request_id,
            kind,
            tool_name: call.tool_name.clone(),
            tool_use_id: call.tool_use_id.clone(),
            input: call.input.clone(),
            description: call.description.clone(),
            blocked_path: call.blocked_path.clone(),
            questions,
            plan,
            expires_at,
        };
        let mut state = self.lock();
        let Some(outlet) = &state.outlet else {
            // The run is ending (stdin closed): the CLI gets no answer from us either way.
            debug!(tool = %call.tool_name, "control request after the agent's input was closed");
            return;
        };
        let _ = outlet
            .events
            .send(EventBody::InputRequest(Box::new(event)));
        let weak = Arc::downgrade(self);
        let timer = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(u64::from(seconds))).await;
            if let Some(controls) = weak.upgrade() {
                controls.expire(request_id, seconds);
            }
        });
        info!(%request_id, kind = kind.as_str(), tool = %call.tool_name, "the agent waits for input");
        state.pending.insert(
            request_id,
            Pending {
                cli_request_id: cli_id,
                kind,
                tool_name: call.tool_name,
                input: call.input,
                timer: Some(timer.abort_handle()),
            },
        );
    }

    /// A person's answer: written to the CLI and emitted as an `input_answer` event.
    pub fn answer(&self, answer: InputAnswer) -> Result<(), AnswerError> {
        let mut state = self.lock();
        let pending = take(&mut state, answer.request_id)?;
        let result = permission_result(&pending, &answer);
        info!(request_id = %answer.request_id, decision = ?answer.decision, "input answered");
        send(&state, &pending, &result, answer);
        Ok(())
    }

    /// A CLI's `control_cancel_request`: the request it names ends as `canceled`.
    pub fn cancel_cli_request(&self, cli_request_id: &str) {
        let mut state = self.lock();
        let Some(request_id) = state
            .pending
            .iter()
            .find(|(_, p)| p.cli_request_id == cli_request_id)
            .map(|(id, _)| *id)
        else {
            return;
        };
        if let Ok(pending) = take(&mut state, request_id)
            && let Some(outlet) = &state.outlet
        {
            info!(%request_id, "the agent withdrew its input request");
            let _ = outlet.events.send(input_answer_event(ended(
                request_id,
                InputOutcome::Canceled,
                CANCELED_MESSAGE,
            )));
            drop(pending);
        }
    }

    /// Every request still pending ends as `canceled`; stdin is closed and the outlet dropped.
    /// Idempotent.
    pub fn close(&self) {
        let mut state = self.lock();
        let ids: Vec<Uuid> = state.pending.keys().copied().collect();
        for request_id in ids {
            if let Ok(pending) = take(&mut state, request_id) {
                info!(%request_id, "the run ended while its input request was pending");
                let result = PermissionResult::Deny {
                    message: CANCELED_MESSAGE.to_owned(),
                    interrupt: true,
                };
                send(
                    &state,
                    &pending,
                    &result,
                    ended(request_id, InputOutcome::Canceled, CANCELED_MESSAGE),
                );
            }
        }
        if let Some(outlet) = state.outlet.take() {
            let _ = outlet.stdin.send(StdinMessage::Close);
        }
    }

    fn expire(&self, request_id: Uuid, seconds: u32) {
        let mut state = self.lock();
        let Ok(mut pending) = take(&mut state, request_id) else {
            return;
        };
        pending.timer = None;
        let message = format!(
            "Nobody answered within {seconds} s; the request expired. Do not repeat the call \
             unless the user asks for it."
        );
        info!(%request_id, seconds, "input request expired");
        let result = PermissionResult::Deny {
            message: message.clone(),
            interrupt: false,
        };
        send(
            &state,
            &pending,
            &result,
            ended(request_id, InputOutcome::Expired, &message),
        );
    }

    fn write(&self, line: Value) {
        if let Some(outlet) = &self.lock().outlet {
            let _ = outlet.stdin.send(StdinMessage::Line(json_line(&line)));
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Takes a request out of the pending map (stopping its timer) and marks it resolved.
fn take(state: &mut State, request_id: Uuid) -> Result<Pending, AnswerError> {
    match state.pending.remove(&request_id) {
        Some(mut pending) => {
            if let Some(timer) = pending.timer.take() {
                timer.abort();
            }
            state.resolved.insert(request_id);
            Ok(pending)
        }
        None if state.resolved.contains(&request_id) => {
            Err(AnswerError::AlreadyAnswered(request_id))
        }
        None => Err(AnswerError::NotFound(request_id)),
    }
}

/// Writes the CLI's answer, then queues the `input_answer` event.
fn send(state: &State, pending: &Pending, result: &PermissionResult, answer: InputAnswer) {
    let Some(outlet) = &state.outlet else {
        return;
    };
    let line = cli::control_response(&pending.cli_request_id, result);
    let _ = outlet.stdin.send(StdinMessage::Line(json_line(&line)));
    let _ = outlet.events.send(input_answer_event(answer));
}

fn input_answer_event(answer: InputAnswer) -> EventBody {
    EventBody::InputAnswer(Box::new(answer))
}

/// The record of a request nobody answered.
fn ended(request_id: Uuid, outcome: InputOutcome, message: &str) -> InputAnswer {
    InputAnswer {
        request_id,
        outcome,
        decision: InputDecision::Deny,
        message: Some(message.to_owned()),
        updated_input: None,
        answers: Default::default(),
        always: false,
        mode: None,
        answered_by: None,
        answered_at: now(),
    }
}

fn now() -> DateTime<Utc> {
    Utc::now()
}

/// The CLI's answer to a request, from a person's answer.
fn permission_result(pending: &Pending, answer: &InputAnswer) -> PermissionResult {
    match answer.decision {
        InputDecision::Deny => {
            let given = answer
                .message
                .as_deref()
                .map(str::trim)
                .filter(|m| !m.is_empty());
            let message = match (pending.kind, given) {
                (InputKind::Plan, Some(feedback)) => {
                    format!("{DEFAULT_PLAN_DENY_MESSAGE} {feedback}")
                }
                (InputKind::Plan, None) => DEFAULT_PLAN_DENY_MESSAGE.to_owned(),
                (_, Some(message)) => message.to_owned(),
                (_, None) => DEFAULT_DENY_MESSAGE.to_owned(),
            };
            PermissionResult::Deny {
                message,
                interrupt: false,
            }
        }
        InputDecision::Allow => {
            let mut updated_input = match &answer.updated_input {
                Some(v @ Value::Object(_)) if pending.kind == InputKind::Permission => v.clone(),
                _ => pending.input.clone(),
            };
            let mut updated_permissions = Vec::new();
            match pending.kind {
                InputKind::Question => {
                    if let Value::Object(map) = &mut updated_input {
                        map.insert("answers".to_owned(), json!(answer.answers));
                    } else {
                        updated_input = json!({"answers": answer.answers});
                    }
                }
                InputKind::Plan => {
                    let mode = match answer.mode {
                        Some(
                            m @ (PermissionMode::AcceptEdits
                            | PermissionMode::BypassPermissions
                            | PermissionMode::Default),
                        ) => m,
                        _ => PermissionMode::AcceptEdits,
                    };
                    updated_permissions.push(json!({
                        "type": "setMode",
                        "mode": mode.as_cli_flag(),
                        "destination": "session",
                    }));
                }
                InputKind::Permission => {
                    if answer.always {
                        updated_permissions.push(json!({
                            "type": "addRules",
                            "rules": [{"toolName": pending.tool_name}],
                            "behavior": "allow",
                            "destination": "session",
                        }));
                    }
                }
            }
            PermissionResult::Allow {
                updated_input,
                updated_permissions,
            }
        }
    }
}

/// The questions of an `AskUserQuestion` input (`questions[{question, header, options[{label,
/// description}], multiSelect}]`); entries without a question text are left out.
fn parse_questions(input: &Value) -> Vec<Question> {
    let Some(list) = input.get("questions").and_then(Value::as_array) else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|q| {
            Some(Question {
                question: str_of(q, "question")?,
                header: str_of(q, "header"),
                multi_select: q
                    .get("multiSelect")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                options: q
                    .get("options")
                    .and_then(Value::as_array)
                    .map(|opts| {
                        opts.iter()
                            .filter_map(|o| {
                                Some(QuestionOption {
                                    label: str_of(o, "label")?,
                                    description: str_of(o, "description"),
                                })
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            })
        })
        .collect()
}

fn str_of(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn json_line(v: &Value) -> Vec<u8> {
    let mut line = v.to_string().into_bytes();
    line.push(b'\n');
    line
}
