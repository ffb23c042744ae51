//! The web UI's TypeScript types are generated from this crate, never written by hand.
//!
//! This test renders every browser-facing type (and `ERROR_CODES`, the list of error codes) and
//! compares the result with the committed `web/src/generated/protocol.ts`. After changing a wire
//! type, regenerate with
//! `WORKCELL_UPDATE_TS=1 cargo test -p protocol --test typescript` and commit the file.

use std::path::PathBuf;

use protocol::{
    accounts, api, capabilities, error, event, files, input, internal, live, models, projects,
    schedule, search, secrets, status, usage,
};
use ts_rs::TS;

/// `export type Name = ...;` for each type, in the order given.
macro_rules! declarations {
    ($($ty:ty),* $(,)?) => {{
        let mut out = Vec::new();
        $( out.push(format!("export {}", <$ty as TS>::decl())); )*
        out
    }};
}

fn render() -> String {
    let decls = declarations![
        // errors
        error::ErrorBody,
        error::ErrorDetail,
        error::ErrorCode,
        // statuses
        status::RunStatus,
        status::SessionStatus,
        status::PermissionMode,
        status::RunOutcome,
        internal::ExportStatus,
        // events
        event::Event,
        event::EventBody,
        event::TodoItem,
        event::RunResult,
        event::Usage,
        event::FileChange,
        event::ChangeKind,
        event::McpServerStatus,
        // public API
        api::Credentials,
        accounts::Role,
        accounts::Scope,
        accounts::Registration,
        accounts::RegisterRequest,
        accounts::ChangePasswordRequest,
        accounts::ResetPasswordRequest,
        accounts::SignInProvider,
        accounts::AuthConfig,
        accounts::CreateTokenRequest,
        accounts::TokenView,
        accounts::CreatedToken,
        accounts::TokenList,
        accounts::UserUsage,
        accounts::AdminUserView,
        accounts::AdminUserList,
        accounts::UpdateUserRequest,
        accounts::CreateInviteRequest,
        accounts::InviteView,
        accounts::CreatedInvite,
        accounts::InviteList,
        accounts::PasswordResetLink,
        api::UserView,
        api::AuthResponse,
        api::MeResponse,
        api::CreateTaskRequest,
        api::CreateTaskResponse,
        api::SessionView,
        api::SessionList,
        api::SessionDetail,
        api::UpdateSessionRequest,
        api::RunView,
        api::RunExport,
        api::RunUsage,
        api::EventsPage,
        api::CancelResponse,
        api::HealthResponse,
        api::ReadyResponse,
        api::AttemptError,
        // files and attachments
        files::ManifestChange,
        files::RunFile,
        files::RunFiles,
        files::ArchiveLink,
        files::AttachmentView,
        files::GitRepoRequest,
        files::DiffLineKind,
        files::DiffLine,
        files::DiffHunk,
        files::FileDiff,
        // usage analytics (issue 17)
        usage::UsageGroupBy,
        usage::UsageStats,
        usage::UsageGroup,
        usage::UsageReport,
        // scheduled tasks
        schedule::SessionMode,
        schedule::RunKind,
        schedule::ScheduledTaskView,
        schedule::ScheduledTaskList,
        schedule::CreateScheduledTaskRequest,
        schedule::UpdateScheduledTaskRequest,
        schedule::CronPreview,
        schedule::ScheduledRunList,
        // agent capabilities
        capabilities::EnabledUpdate,
        capabilities::SkillFileEntry,
        capabilities::SkillView,
        capabilities::SkillDetail,
        capabilities::SkillList,
        capabilities::McpServerView,
        capabilities::McpServerRequest,
        capabilities::McpServerList,
        capabilities::SlashCommandView,
        capabilities::SlashCommandRequest,
        capabilities::SlashCommandList,
        capabilities::SubagentView,
        capabilities::SubagentRequest,
        capabilities::SubagentList,
        capabilities::InstructionsView,
        capabilities::InstructionsRequest,
        capabilities::PresetView,
        capabilities::PresetRequest,
        capabilities::PresetList,
        capabilities::CapabilityChoice,
        capabilities::CapabilityRef,
        capabilities::CapabilitySummary,
        // the human in the loop
        input::InputKind,
        input::Question,
        input::QuestionOption,
        input::InputRequest,
        input::InputDecision,
        input::InputOutcome,
        input::InputRequestStatus,
        input::AnswerInputRequest,
        input::InputAnswer,
        input::InputRequestView,
        input::InputRequestList,
        input::QueuedRunView,
        input::SessionQueue,
        input::UpdateQueuedRunRequest,
        // search (issue 17)
        search::SearchHitKind,
        search::SearchHit,
        search::SearchResults,
        // secrets, projects, models
        secrets::SecretValue,
        secrets::SecretView,
        secrets::SecretList,
        secrets::SetSecretRequest,
        secrets::UpdateSecretRequest,
        projects::ProjectDefaults,
        projects::ProjectView,
        projects::ProjectList,
        projects::CreateProjectRequest,
        projects::UpdateProjectRequest,
        models::ModelView,
        models::ModelList,
        // WebSocket
        live::ClientMessage,
        live::ServerMessage,
    ];
    let mut text = String::from(
        "// Generated from crates/protocol by crates/protocol/tests/typescript.rs. Do not edit.\n\
         // Regenerate: WORKCELL_UPDATE_TS=1 cargo test -p protocol --test typescript\n\n\
         export type JsonValue = number | string | boolean | Array<JsonValue> | { [key in string]?: JsonValue } | null;\n\n",
    );
    for decl in decls {
        // 64-bit integers travel as JSON numbers (sequence numbers and counts stay far below 2^53).
        text.push_str(&decl.replace("bigint", "number"));
        text.push_str("\n\n");
    }
    // The one value exported: the codes as a list, so the UI can read a code it does not know as
    // `unknown`, as `ErrorCode`'s `#[serde(other)]` does in Rust.
    let codes: Vec<String> = error::ErrorCode::ALL
        .iter()
        .map(|c| format!("\"{}\"", c.as_str()))
        .collect();
    text.push_str(&format!(
        "/**\n * Every `ErrorCode`, from `ErrorCode::ALL`.\n */\nexport const ERROR_CODES: ReadonlyArray<ErrorCode> = [{}];\n\n",
        codes.join(", ")
    ));
    text.truncate(text.trim_end().len());
    text.push('\n');
    text
}

#[test]
fn generated_typescript_is_current() {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../web/src/generated/protocol.ts");
    let expected = render();
    if std::env::var_os("WORKCELL_UPDATE_TS").is_some() {
        std::fs::write(&path, &expected).expect("write the generated TypeScript");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == expected,
        "{} is out of date: run `WORKCELL_UPDATE_TS=1 cargo test -p protocol --test typescript` and commit it",
        path.display()
    );
}
