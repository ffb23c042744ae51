//! Projects (`/api/v1/projects`): a user's way to group sessions, with defaults for their tasks,
//! instructions (the project's `CLAUDE.md`) and files staged into every run's `inputs/`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use uuid::Uuid;

use crate::files::{AttachmentView, GitRepoRequest};
use crate::status::PermissionMode;

/// The longest project name, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// The longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 2_000;
/// The longest instructions, in bytes.
pub const MAX_INSTRUCTIONS_BYTES: usize = 64 * 1024;
/// The most files a project keeps.
pub const MAX_FILES: usize = 50;

/// What a task of the project gets when it names nothing else (a task's own fields win; a
/// follow-up keeps its session's).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ProjectDefaults {
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub preset_id: Option<Uuid>,
    #[serde(default)]
    pub permission_mode: Option<PermissionMode>,
    /// The repository new sessions of the project clone (with its token's secret name).
    #[serde(default)]
    pub git: Option<GitRepoRequest>,
}

/// A project as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProjectView {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub defaults: ProjectDefaults,
    /// The project's `CLAUDE.md`: added after the user's own instructions in every run of the
    /// project's sessions.
    pub instructions: String,
    /// Staged into every run's `inputs/` (a task's attachment of the same name wins).
    pub files: Vec<AttachmentView>,
    /// Sessions in the project (deleted ones not counted).
    pub session_count: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `GET /projects`: by name.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProjectList {
    pub projects: Vec<ProjectView>,
}

/// `POST /projects` (`201`; `409 name_taken` for a name the user has).
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(example = json!({"name": "Website", "description": "The company website", "instructions": "Use the design tokens in styles/tokens.css."}))
)]
#[serde(deny_unknown_fields)]
pub struct CreateProjectRequest {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub defaults: ProjectDefaults,
    #[serde(default)]
    pub instructions: String,
}

/// `PATCH /projects/{id}`: each field given replaces the stored one (`defaults` whole).
#[derive(Debug, Clone, Default, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(example = json!({"description": "The company website (new design)"}))
)]
#[serde(deny_unknown_fields)]
pub struct UpdateProjectRequest {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub defaults: Option<ProjectDefaults>,
    #[serde(default)]
    pub instructions: Option<String>,
}
