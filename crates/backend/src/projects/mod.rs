//! Projects: a user's way to group sessions, with defaults for their tasks, instructions (the
//! project's `CLAUDE.md`) and files staged into every run of their sessions ([`files`]).
//!
//! # Rules
//! - A name is 1 to [`MAX_NAME_CHARS`] characters after trimming, one line, unique per user
//!   without regard to case (`409 name_taken`, from the `projects_user_name` index).
//! - Defaults are checked like a task's fields: the model by [`crate::tasks::model_problem`], the
//!   preset must be the user's or the system's (404 `preset` otherwise), the repository by
//!   [`crate::git_source::validate`] (a new session's repository).
//! - Another user's project answers 404 everywhere, exactly like a missing one; so does a task,
//!   a session filter or a file route naming it.
//!
//! # In a task ([`for_run`], used by `tasks::queue`)
//! A new session named with `project_id` belongs to the project for good (`sessions.project_id`);
//! its follow-ups keep it. The project's defaults fill what a task leaves out: the model (the
//! task's, else the project's, else the preset's), the permission mode (the task's, else the
//! session's, else the project's, else the preset's), a new session's repository, and the preset
//! when the task names no capabilities. The instructions are added to the run's `CLAUDE.md`
//! after the user's own, under a heading naming the project ([`add_instructions`]), as they are
//! when the run is queued: an edit reaches the next run. Scheduled tasks have no project.
//!
//! # Deleting
//! A project with sessions is kept (`409 project_not_empty`) unless the request says
//! `?cascade=true`: then its sessions are deleted as `DELETE /sessions/{id}` deletes one (their
//! objects first), refused (`409 session_active`) while one of them has a run on a worker.

pub mod files;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use protocol::ErrorCode;
use protocol::capabilities::{CapabilityChoice, CapabilitySnapshot};
use protocol::files::AttachmentView;
use protocol::projects::{
    CreateProjectRequest, MAX_DESCRIPTION_CHARS, MAX_INSTRUCTIONS_BYTES, MAX_NAME_CHARS,
    ProjectDefaults, ProjectView, UpdateProjectRequest,
};
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use objstore::Bucket;

use crate::attachments::AttachmentRow;
use crate::capabilities::{Kind, check_line, check_markdown, check_visible};
use crate::error::{ApiError, ApiResult};

/// The most projects a user keeps (`GET /projects` lists them all).
pub const MAX_PROJECTS: i64 = 200;

/// What a 404 calls a project.
const NOUN: &str = "project";

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    name: String,
    description: String,
    defaults: Json<ProjectDefaults>,
    instructions: String,
    session_count: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl Row {
    fn into_view(self, files: Vec<AttachmentView>) -> ProjectView {
        ProjectView {
            id: self.id,
            name: self.name,
            description: self.description,
            defaults: self.defaults.0,
            instructions: self.instructions,
            files,
            session_count: self.session_count,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// The columns [`Row`] reads, from `projects` (aliased `p`).
const COLUMNS: &str = "p.id, p.name, p.description, p.defaults, p.instructions, p.created_at,
     p.updated_at, (SELECT count(*) FROM sessions s WHERE s.project_id = p.id) AS session_count";

/// The columns of a project file as its view shows it.
const FILE_COLUMNS: &str = "id, name, size, content_type, created_at";

/// The files of `projects`, by project, each list by name.
async fn files_of(
    conn: &mut PgConnection,
    projects: &[Uuid],
) -> ApiResult<HashMap<Uuid, Vec<AttachmentView>>> {
    #[derive(sqlx::FromRow)]
    struct FileRow {
        project_id: Uuid,
        #[sqlx(flatten)]
        file: AttachmentRow,
    }
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT project_id, {FILE_COLUMNS} FROM project_files
          WHERE project_id = ANY($1) ORDER BY name"
    ));
    let rows: Vec<FileRow> = sqlx::query_as(sql)
        .bind(projects)
        .fetch_all(&mut *conn)
        .await?;
    let mut by_project: HashMap<Uuid, Vec<AttachmentView>> = HashMap::new();
    for r in rows {
        by_project
            .entry(r.project_id)
            .or_default()
            .push(r.file.into());
    }
    Ok(by_project)
}

/// `GET /projects`: the user's projects, by name.
pub async fn list(pool: &PgPool, user: Uuid) -> ApiResult<Vec<ProjectView>> {
    let mut conn = pool.acquire().await?;
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM projects p WHERE p.user_id = $1 ORDER BY lower(p.name), p.id"
    ));
    let rows: Vec<Row> = sqlx::query_as(sql).bind(user).fetch_all(&mut *conn).await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let mut files = files_of(&mut conn, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let f = files.remove(&r.id).unwrap_or_default();
            r.into_view(f)
        })
        .collect())
}

/// One project of `user`, or 404.
pub async fn get(conn: &mut PgConnection, user: Uuid, id: Uuid) -> ApiResult<ProjectView> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM projects p WHERE p.id = $1 AND p.user_id = $2"
    ));
    let row: Option<Row> = sqlx::query_as(sql)
        .bind(id)
        .bind(user)
        .fetch_optional(&mut *conn)
        .await?;
    let row = row.ok_or(ApiError::NotFound(NOUN))?;
    let files = files_of(conn, &[id]).await?.remove(&id).unwrap_or_default();
    Ok(row.into_view(files))
}

/// Checks that `user` owns project `id` (404 otherwise).
pub async fn ensure_owned(conn: &mut PgConnection, user: Uuid, id: Uuid) -> ApiResult<()> {
    lock(conn, user, id, "").await
}

/// Locks project `id` of `user` with `lock` (`""`: no lock) for the rest of the caller's
/// transaction, or 404.
async fn lock(conn: &mut PgConnection, user: Uuid, id: Uuid, lock: &str) -> ApiResult<()> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT 1 FROM projects WHERE id = $1 AND user_id = $2 {lock}"
    ));
    let found: Option<i32> = sqlx::query_scalar(sql)
        .bind(id)
        .bind(user)
        .fetch_optional(&mut *conn)
        .await?;
    found.map(|_| ()).ok_or(ApiError::NotFound(NOUN))
}

/// A name as stored: trimmed, 1 to [`MAX_NAME_CHARS`] characters, one line.
fn checked_name(raw: &str) -> ApiResult<String> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(ApiError::validation("name must not be empty"));
    }
    check_line("name", name, MAX_NAME_CHARS)?;
    Ok(name.to_owned())
}

fn check_description(text: &str) -> ApiResult<()> {
    if text.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(ApiError::validation(format!(
            "description must be at most {MAX_DESCRIPTION_CHARS} characters"
        )));
    }
    check_markdown("description", text)
}

fn check_instructions(text: &str) -> ApiResult<()> {
    if text.len() > MAX_INSTRUCTIONS_BYTES {
        return Err(ApiError::validation(format!(
            "instructions must be at most {} KiB",
            MAX_INSTRUCTIONS_BYTES / 1024
        )));
    }
    check_markdown("instructions", text)
}

/// Checks defaults as a task's own fields are checked (see the module documentation).
async fn check_defaults(
    conn: &mut PgConnection,
    user: Uuid,
    defaults: &ProjectDefaults,
    allow_http: bool,
) -> ApiResult<()> {
    if let Some(problem) = defaults
        .model
        .as_deref()
        .and_then(crate::tasks::model_problem)
    {
        return Err(ApiError::validation(format!("defaults.{problem}")));
    }
    crate::git_source::validate(defaults.git.as_ref(), false, allow_http)?;
    if let Some(preset) = defaults.preset_id {
        check_visible(conn, Kind::Preset, user, &[preset]).await?;
    }
    Ok(())
}

/// A unique-index violation on an insert or rename is a name the user already uses.
fn name_conflict(name: &str) -> impl FnOnce(sqlx::Error) -> ApiError + '_ {
    move |e| match &e {
        sqlx::Error::Database(db) if db.code().as_deref() == Some("23505") => ApiError::conflict(
            ErrorCode::NameTaken,
            format!("you have a project named `{name}` already"),
        ),
        _ => e.into(),
    }
}

/// `POST /projects`; `allow_http` is `GIT_ALLOW_HTTP` (for the default repository).
pub async fn create(
    pool: &PgPool,
    user: Uuid,
    req: CreateProjectRequest,
    allow_http: bool,
) -> ApiResult<ProjectView> {
    let name = checked_name(&req.name)?;
    check_description(&req.description)?;
    check_instructions(&req.instructions)?;
    let mut tx = pool.begin().await?;
    check_defaults(&mut tx, user, &req.defaults, allow_http).await?;
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM projects WHERE user_id = $1")
        .bind(user)
        .fetch_one(&mut *tx)
        .await?;
    if count >= MAX_PROJECTS {
        return Err(ApiError::validation(format!(
            "you keep {MAX_PROJECTS} projects already; delete one first"
        )));
    }
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO projects (id, user_id, name, description, defaults, instructions)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(user)
    .bind(&name)
    .bind(&req.description)
    .bind(Json(&req.defaults))
    .bind(&req.instructions)
    .execute(&mut *tx)
    .await
    .map_err(name_conflict(&name))?;
    let view = get(&mut tx, user, id).await?;
    tx.commit().await?;
    tracing::info!(project_id = %id, "project created");
    Ok(view)
}

/// `PATCH /projects/{id}`: each field given replaces the stored one (`defaults` whole);
/// `allow_http` as for [`create`].
pub async fn update(
    pool: &PgPool,
    user: Uuid,
    id: Uuid,
    req: UpdateProjectRequest,
    allow_http: bool,
) -> ApiResult<ProjectView> {
    let name = req.name.as_deref().map(checked_name).transpose()?;
    if let Some(d) = &req.description {
        check_description(d)?;
    }
    if let Some(i) = &req.instructions {
        check_instructions(i)?;
    }
    let mut tx = pool.begin().await?;
    // Not `FOR UPDATE`: tasks naming the project (`FOR KEY SHARE`) need not wait for an edit.
    lock(&mut tx, user, id, "FOR NO KEY UPDATE").await?;
    if let Some(d) = &req.defaults {
        check_defaults(&mut tx, user, d, allow_http).await?;
    }
    sqlx::query(
        "UPDATE projects
            SET name = coalesce($2, name),
                description = coalesce($3, description),
                defaults = coalesce($4, defaults),
                instructions = coalesce($5, instructions),
                updated_at = now()
          WHERE id = $1",
    )
    .bind(id)
    .bind(&name)
    .bind(&req.description)
    .bind(req.defaults.as_ref().map(Json))
    .bind(&req.instructions)
    .execute(&mut *tx)
    .await
    .map_err(name_conflict(name.as_deref().unwrap_or_default()))?;
    let view = get(&mut tx, user, id).await?;
    tx.commit().await?;
    Ok(view)
}

/// `DELETE /projects/{id}[?cascade=true]` (see the module documentation). The project row is
/// locked first, so a task naming the project either queued its session before (and is found
/// here) or waits and finds the project gone (404).
pub async fn delete(
    pool: &PgPool,
    storage: &Bucket,
    user: Uuid,
    id: Uuid,
    cascade: bool,
) -> ApiResult<()> {
    let mut tx = pool.begin().await?;
    lock(&mut tx, user, id, "FOR UPDATE").await?;
    let sessions: Vec<Uuid> =
        sqlx::query_scalar("SELECT id FROM sessions WHERE project_id = $1 ORDER BY id FOR UPDATE")
            .bind(id)
            .fetch_all(&mut *tx)
            .await?;
    if !sessions.is_empty() {
        if !cascade {
            return Err(ApiError::conflict(
                ErrorCode::ProjectNotEmpty,
                format!(
                    "the project has {} session(s); delete them with it by adding ?cascade=true",
                    sessions.len()
                ),
            ));
        }
        crate::sessions::delete_locked(&mut tx, storage, &sessions).await?;
    }
    let had_files: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM project_files WHERE project_id = $1)")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
    sqlx::query("DELETE FROM projects WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    tracing::info!(project_id = %id, sessions = sessions.len(), "project deleted");
    // After the commit: a failure leaves unreachable objects behind, never a row without one.
    if had_files
        && let Err(e) = storage
            .delete_prefix(&objstore::keys::project_files_prefix(user, id))
            .await
    {
        tracing::warn!(error = %e, project_id = %id, "deleting a project's files failed");
    }
    Ok(())
}

/// What a run takes from its session's project.
#[derive(Debug, Clone)]
pub struct ForRun {
    pub id: Uuid,
    pub name: String,
    pub defaults: ProjectDefaults,
    pub instructions: String,
}

/// Project `id` of `user` for a task being queued, or 404. For a new session (`new_session`) the
/// row is read `FOR KEY SHARE`: a concurrent delete either ran first (404 here) or waits until
/// the task's session exists (and then counts it). A follow-up's session is locked by the task
/// already, and a delete locks the project's sessions, so its project is read without a lock
/// (taking one after the session's would order the locks against the delete's). A default
/// preset deleted since is dropped (like a preset's deleted items), so the project's tasks keep
/// working.
pub async fn for_run(
    conn: &mut PgConnection,
    user: Uuid,
    id: Uuid,
    new_session: bool,
) -> ApiResult<ForRun> {
    let lock = if new_session { "FOR KEY SHARE" } else { "" };
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT name, defaults, instructions FROM projects WHERE id = $1 AND user_id = $2 {lock}"
    ));
    let row: Option<(String, Json<ProjectDefaults>, String)> = sqlx::query_as(sql)
        .bind(id)
        .bind(user)
        .fetch_optional(&mut *conn)
        .await?;
    let (name, Json(mut defaults), instructions) = row.ok_or(ApiError::NotFound(NOUN))?;
    if let Some(preset) = defaults.preset_id
        && check_visible(conn, Kind::Preset, user, &[preset])
            .await
            .is_err()
    {
        defaults.preset_id = None;
    }
    Ok(ForRun {
        id,
        name,
        defaults,
        instructions,
    })
}

/// The capabilities a new session's task resolves: its own choice, or the project's preset when
/// it names none.
pub fn choice(task: &CapabilityChoice, project: Option<&ForRun>) -> CapabilityChoice {
    match project.and_then(|p| p.defaults.preset_id) {
        Some(preset) if task.is_empty() => CapabilityChoice {
            preset_id: Some(preset),
            ..Default::default()
        },
        _ => task.clone(),
    }
}

/// Adds the project's instructions to a run's snapshot: the CLI's `CLAUDE.md` becomes the
/// user's text (the system's, then the user's own), a blank line, `# Project: {name}` and the
/// project's text. The digest is computed again, so an executor that staged the old text stages
/// anew. Nothing changes when the project has no instructions.
pub fn add_instructions(snapshot: &mut CapabilitySnapshot, project: &ForRun) {
    let text = project.instructions.trim();
    if text.is_empty() {
        return;
    }
    let section = format!(
        "# Project: {}\n\n{text}\n",
        project.name.replace(['\r', '\n'], " ")
    );
    snapshot.instructions = Some(match snapshot.instructions.take() {
        Some(own) if !own.trim().is_empty() => format!("{}\n\n{section}", own.trim_end()),
        _ => section,
    });
    snapshot.summary.instructions = true;
    snapshot.digest = crate::capabilities::snapshot::digest(snapshot);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(instructions: &str) -> ForRun {
        ForRun {
            id: Uuid::nil(),
            name: "Website".into(),
            defaults: ProjectDefaults::default(),
            instructions: instructions.into(),
        }
    }

    #[test]
    fn instructions_follow_the_users_under_a_heading_and_change_the_digest() {
        let mut snapshot = CapabilitySnapshot {
            instructions: Some("house rules\n\nmine\n".into()),
            ..Default::default()
        };
        snapshot.digest = crate::capabilities::snapshot::digest(&snapshot);
        let before = snapshot.digest.clone();
        add_instructions(&mut snapshot, &project("Use pnpm.\n\n"));
        assert_eq!(
            snapshot.instructions.as_deref(),
            Some("house rules\n\nmine\n\n# Project: Website\n\nUse pnpm.\n")
        );
        assert!(snapshot.summary.instructions);
        assert_ne!(snapshot.digest, before);

        let mut bare = CapabilitySnapshot::default();
        add_instructions(&mut bare, &project("Use pnpm."));
        assert_eq!(
            bare.instructions.as_deref(),
            Some("# Project: Website\n\nUse pnpm.\n")
        );

        let mut untouched = snapshot.clone();
        add_instructions(&mut untouched, &project(" \n"));
        assert_eq!(untouched, snapshot);
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(checked_name("  Site  ").unwrap(), "Site");
        assert!(checked_name("   ").is_err());
        assert!(checked_name("a\nb").is_err());
        assert!(checked_name(&"x".repeat(MAX_NAME_CHARS)).is_ok());
        assert!(checked_name(&"x".repeat(MAX_NAME_CHARS + 1)).is_err());
        assert!(check_instructions(&"x".repeat(MAX_INSTRUCTIONS_BYTES)).is_ok());
        assert!(check_instructions(&"x".repeat(MAX_INSTRUCTIONS_BYTES + 1)).is_err());
        assert!(check_description(&"é".repeat(MAX_DESCRIPTION_CHARS)).is_ok());
        assert!(check_description(&"é".repeat(MAX_DESCRIPTION_CHARS + 1)).is_err());
    }
}
