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
            warn!(
                subtype,
                "the agent sent a control request the executor does not handle"
            );
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
        let _ = outlet.events.send(EventBody::InputRequest(Box::new(event)));
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

    /// A CLI's `control_cancel_request`: the request it names ends as `canceled` (nothing is
    /// written back: the CLI no longer waits for it).
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
        if take(&mut state, request_id).is_ok()
            && let Some(outlet) = &state.outlet
        {
            info!(%request_id, "the agent withdrew its input request");
            let _ = outlet
                .events
                .send(input_answer_event(InputAnswer::unanswered(
                    request_id,
                    InputOutcome::Canceled,
                    CANCELED_MESSAGE,
                    now(),
                )));
        }
    }

    /// Every request still pending ends as `canceled`; stdin is closed and the outlet dropped.
    /// Idempotent.
    pub fn close(&self) {
        self.end(true);
    }

    /// Like [`Controls::close`], but leaves the CLI's input open: the run is over, its CLI is
    /// kept for the session's next message (see [`super::LiveAgent`]).
    pub fn detach(&self) {
        self.end(false);
    }

    fn end(&self, close_input: bool) {
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
                    InputAnswer::unanswered(
                        request_id,
                        InputOutcome::Canceled,
                        CANCELED_MESSAGE,
                        now(),
                    ),
                );
            }
        }
        if let Some(outlet) = state.outlet.take()
            && close_input
        {
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
            InputAnswer::unanswered(request_id, InputOutcome::Expired, &message, now()),
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

/// `v` as one line of the CLI's stream-json input.
pub(super) fn json_line(v: &Value) -> Vec<u8> {
    let mut line = v.to_string().into_bytes();
    line.push(b'\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn can_use_tool(cli_id: &str, tool: &str, input: Value) -> ControlLine {
        ControlLine {
            request: ControlRequest {
                request_id: cli_id.to_owned(),
                request: json!({
                    "subtype": "can_use_tool",
                    "tool_name": tool,
                    "input": input,
                    "tool_use_id": "toolu_1",
                    "description": "what it does",
                }),
            },
            tool_input: None,
        }
    }

    /// Controls attached to channels the test reads: (stdin lines as JSON, events).
    fn attached(
        timeout: Option<u32>,
    ) -> (
        Arc<Controls>,
        mpsc::UnboundedReceiver<StdinMessage>,
        mpsc::UnboundedReceiver<EventBody>,
    ) {
        let controls = Controls::new(timeout);
        let (stdin_tx, stdin_rx) = mpsc::unbounded_channel();
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        controls.attach(stdin_tx, events_tx);
        (controls, stdin_rx, events_rx)
    }

    fn next_line(rx: &mut mpsc::UnboundedReceiver<StdinMessage>) -> Value {
        match rx.try_recv() {
            Ok(StdinMessage::Line(line)) => serde_json::from_slice(&line).unwrap(),
            other => panic!("expected a line, got {other:?}"),
        }
    }

    fn next_request(rx: &mut mpsc::UnboundedReceiver<EventBody>) -> InputRequest {
        match rx.try_recv() {
            Ok(EventBody::InputRequest(r)) => *r,
            other => panic!("expected an input_request, got {other:?}"),
        }
    }

    fn next_answer(rx: &mut mpsc::UnboundedReceiver<EventBody>) -> InputAnswer {
        match rx.try_recv() {
            Ok(EventBody::InputAnswer(a)) => *a,
            other => panic!("expected an input_answer, got {other:?}"),
        }
    }

    fn answer(request_id: Uuid, decision: InputDecision) -> InputAnswer {
        InputAnswer {
            request_id,
            outcome: InputOutcome::Answered,
            decision,
            message: None,
            updated_input: None,
            answers: Default::default(),
            always: false,
            mode: None,
            answered_by: Some("ada@example.com".into()),
            answered_at: Utc::now(),
        }
    }

    /// Opens one request and answers it; returns the CLI's answer (the `response.response`).
    async fn answered(
        tool: &str,
        input: Value,
        tool_input: Option<Value>,
        a: impl FnOnce(&mut InputAnswer),
    ) -> (InputRequest, Value) {
        let (controls, mut stdin, mut events) = attached(None);
        let mut line = can_use_tool("cli-1", tool, input);
        line.tool_input = tool_input;
        controls.open(line);
        let request = next_request(&mut events);
        let mut given = answer(request.request_id, InputDecision::Allow);
        a(&mut given);
        controls.answer(given.clone()).unwrap();
        let written = next_line(&mut stdin);
        assert_eq!(written["type"], "control_response");
        assert_eq!(written["response"]["subtype"], "success");
        assert_eq!(written["response"]["request_id"], "cli-1");
        assert_eq!(next_answer(&mut events), given);
        (request, written["response"]["response"].clone())
    }

    #[tokio::test]
    async fn answers_translate_to_the_clis_permission_results() {
        let input = json!({"command": "rm -rf build", "description": "clean"});
        let (request, r) = answered("Bash", input.clone(), None, |_| {}).await;
        assert_eq!(request.kind, InputKind::Permission);
        assert_eq!(request.description.as_deref(), Some("what it does"));
        assert_eq!(request.tool_use_id.as_deref(), Some("toolu_1"));
        let left = request.expires_at - Utc::now();
        assert!(left > chrono::Duration::seconds(290) && left <= chrono::Duration::seconds(300));
        assert_eq!(r, json!({"behavior": "allow", "updatedInput": input}));

        let edited = json!({"command": "rm -rf build/tmp"});
        let (_, r) = answered("Bash", input.clone(), None, |a| {
            a.updated_input = Some(edited.clone());
            a.always = true;
        })
        .await;
        assert_eq!(
            r,
            json!({"behavior": "allow", "updatedInput": edited, "updatedPermissions": [
                {"type": "addRules", "rules": [{"toolName": "Bash"}], "behavior": "allow", "destination": "session"}
            ]})
        );
        // An updated input that is no object: the original runs.
        let (_, r) = answered("Bash", input.clone(), None, |a| {
            a.updated_input = Some(json!("rm -rf /"));
        })
        .await;
        assert_eq!(r["updatedInput"], input);

        let (_, r) = answered("Bash", input.clone(), None, |a| {
            a.decision = InputDecision::Deny;
        })
        .await;
        assert_eq!(
            r,
            json!({"behavior": "deny", "message": "The user denied this tool call."})
        );
        let (_, r) = answered("Bash", input.clone(), None, |a| {
            a.decision = InputDecision::Deny;
            a.message = Some("not there".into());
        })
        .await;
        assert_eq!(r, json!({"behavior": "deny", "message": "not there"}));
    }

    #[tokio::test]
    async fn questions_and_plans() {
        let input = json!({"questions": [
            {"question": "Which color?", "header": "Color", "multiSelect": true,
             "options": [{"label": "Red"}, {"label": "Blue", "description": "cool"}, {"nolabel": 1}]},
            {"header": "no question text"}
        ]});
        let (request, r) = answered("AskUserQuestion", input.clone(), None, |a| {
            a.answers.insert("Which color?".into(), "Red, Blue".into());
        })
        .await;
        assert_eq!(request.kind, InputKind::Question);
        assert_eq!(
            request.questions,
            vec![Question {
                question: "Which color?".into(),
                header: Some("Color".into()),
                multi_select: true,
                options: vec![
                    QuestionOption {
                        label: "Red".into(),
                        description: None
                    },
                    QuestionOption {
                        label: "Blue".into(),
                        description: Some("cool".into())
                    },
                ],
            }]
        );
        let mut expected = input.clone();
        expected["answers"] = json!({"Which color?": "Red, Blue"});
        assert_eq!(r, json!({"behavior": "allow", "updatedInput": expected}));

        // The plan comes from the tool_use; approval sets the mode (acceptEdits by default,
        // never `plan` again).
        let plan_input = Some(json!({"plan": "# Plan"}));
        for (mode, expected) in [
            (None, "acceptEdits"),
            (Some(PermissionMode::BypassPermissions), "bypassPermissions"),
            (Some(PermissionMode::Default), "default"),
            (Some(PermissionMode::Plan), "acceptEdits"),
        ] {
            let (request, r) = answered("ExitPlanMode", json!({}), plan_input.clone(), |a| {
                a.mode = mode;
            })
            .await;
            assert_eq!(request.kind, InputKind::Plan);
            assert_eq!(request.plan.as_deref(), Some("# Plan"));
            assert_eq!(
                r,
                json!({"behavior": "allow", "updatedInput": {}, "updatedPermissions": [
                    {"type": "setMode", "mode": expected, "destination": "session"}
                ]})
            );
        }
        let (_, r) = answered("ExitPlanMode", json!({}), plan_input.clone(), |a| {
            a.decision = InputDecision::Deny;
            a.message = Some("Add tests.".into());
        })
        .await;
        assert_eq!(r["message"], "The user wants to keep planning. Add tests.");
        let (_, r) = answered("ExitPlanMode", json!({}), plan_input, |a| {
            a.decision = InputDecision::Deny;
        })
        .await;
        assert_eq!(r["message"], "The user wants to keep planning.");
    }

    #[tokio::test]
    async fn other_control_requests_get_an_error_answer_at_once() {
        let (controls, mut stdin, mut events) = attached(None);
        controls.open(ControlLine {
            request: ControlRequest {
                request_id: "cli-9".into(),
                request: json!({"subtype": "hook_callback", "callback_id": "x"}),
            },
            tool_input: None,
        });
        let line = next_line(&mut stdin);
        assert_eq!(line["response"]["subtype"], "error");
        assert_eq!(line["response"]["request_id"], "cli-9");
        assert!(events.try_recv().is_err());
        assert_eq!(controls.pending(), 0);
        // A can_use_tool without a tool name is unreadable: an error too.
        controls.open(ControlLine {
            request: ControlRequest {
                request_id: "cli-10".into(),
                request: json!({"subtype": "can_use_tool"}),
            },
            tool_input: None,
        });
        assert_eq!(next_line(&mut stdin)["response"]["subtype"], "error");
    }

    #[tokio::test]
    async fn expiry_denies_once_and_a_late_answer_is_refused() {
        let (controls, mut stdin, mut events) = attached(Some(1));
        controls.open(can_use_tool("cli-1", "Bash", json!({"command": "ls"})));
        let request = next_request(&mut events);
        tokio::time::sleep(Duration::from_millis(1300)).await;
        let line = next_line(&mut stdin);
        assert_eq!(line["response"]["response"]["behavior"], "deny");
        assert!(
            line["response"]["response"]["message"]
                .as_str()
                .unwrap()
                .starts_with("Nobody answered within 1 s; the request expired.")
        );
        let expired = next_answer(&mut events);
        assert_eq!(expired.outcome, InputOutcome::Expired);
        assert_eq!(expired.decision, InputDecision::Deny);
        assert_eq!(expired.answered_by, None);
        assert_eq!(
            controls.answer(answer(request.request_id, InputDecision::Allow)),
            Err(AnswerError::AlreadyAnswered(request.request_id))
        );
        assert_eq!(
            controls
                .answer(answer(Uuid::new_v4(), InputDecision::Allow))
                .map_err(|e| matches!(e, AnswerError::NotFound(_))),
            Err(true)
        );
        assert!(stdin.try_recv().is_err() && events.try_recv().is_err());
    }

    #[tokio::test]
    async fn an_answer_stops_the_timer() {
        let (controls, mut stdin, mut events) = attached(Some(1));
        controls.open(can_use_tool("cli-1", "Bash", json!({"command": "ls"})));
        let request = next_request(&mut events);
        controls
            .answer(answer(request.request_id, InputDecision::Allow))
            .unwrap();
        next_line(&mut stdin);
        next_answer(&mut events);
        tokio::time::sleep(Duration::from_millis(1300)).await;
        assert!(stdin.try_recv().is_err() && events.try_recv().is_err());
    }

    #[tokio::test]
    async fn closing_cancels_what_is_pending_and_closes_stdin() {
        let (controls, mut stdin, mut events) = attached(None);
        controls.open(can_use_tool("cli-1", "Bash", json!({"command": "ls"})));
        controls.open(can_use_tool(
            "cli-2",
            "Read",
            json!({"file_path": "/etc/hosts"}),
        ));
        let first = next_request(&mut events);
        let second = next_request(&mut events);
        controls.close();
        let mut canceled = vec![next_answer(&mut events), next_answer(&mut events)];
        canceled.sort_by_key(|a| a.request_id == second.request_id);
        assert_eq!(canceled[0].request_id, first.request_id);
        for a in &canceled {
            assert_eq!(a.outcome, InputOutcome::Canceled);
            assert_eq!(a.answered_by, None);
        }
        for _ in 0..2 {
            assert_eq!(
                next_line(&mut stdin)["response"]["response"]["behavior"],
                "deny"
            );
        }
        assert!(matches!(stdin.try_recv(), Ok(StdinMessage::Close)));
        controls.close();
        assert_eq!(
            controls.answer(answer(first.request_id, InputDecision::Allow)),
            Err(AnswerError::AlreadyAnswered(first.request_id))
        );
        // After the end, a new request is not opened (nobody could answer it).
        controls.open(can_use_tool("cli-3", "Bash", json!({})));
        assert_eq!(controls.pending(), 0);
    }

    #[tokio::test]
    async fn a_request_the_cli_withdraws_ends_as_canceled() {
        let (controls, mut stdin, mut events) = attached(None);
        controls.open(can_use_tool("cli-1", "Bash", json!({"command": "ls"})));
        let request = next_request(&mut events);
        controls.cancel_cli_request("cli-unknown");
        assert!(events.try_recv().is_err());
        controls.cancel_cli_request("cli-1");
        let a = next_answer(&mut events);
        assert_eq!(
            (a.request_id, a.outcome),
            (request.request_id, InputOutcome::Canceled)
        );
        // The CLI no longer waits: nothing is written back.
        assert!(stdin.try_recv().is_err());
    }
}
