//! `POST /tasks`: give the agent a task, in a new session or as a follow-up in an existing one.
//!
//! With a `client_request_id`, a submit is done once per user and id: a retry (same user, same
//! id, within a day) queues nothing and answers `200` with the first submit's session and run
//! (and the run's status now); the first answers `201`.

use axum::extract::State;
use axum::http::StatusCode;
use protocol::api::{CreateTaskRequest, CreateTaskResponse};
use protocol::schedule::RunKind;
use protocol::{ErrorBody, RunStatus};

use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult};
use crate::extract::Json;
use crate::state::AppState;
use crate::tasks::{self, NewTask};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create))
}

fn validate(req: &CreateTaskRequest, git_allow_http: bool) -> ApiResult<()> {
    if let Some(problem) = tasks::prompt_problem(&req.prompt) {
        return Err(ApiError::validation(problem));
    }
    if let Some(problem) = req.model.as_deref().and_then(tasks::model_problem) {
        return Err(ApiError::validation(problem));
    }
    crate::git_source::validate(req.git.as_ref(), req.session_id.is_some(), git_allow_http)?;
    crate::attachments::validate_for_task(&req.attachments)?;
    crate::capabilities::check_choice(&req.capability_choice())?;
    if let Some(problem) = req
        .client_request_id
        .as_deref()
        .and_then(tasks::client_request_id_problem)
    {
        return Err(ApiError::validation(problem));
    }
    Ok(())
}

/// Gives the agent a task: a new session (no `session_id`) or a follow-up in one of the caller's
/// sessions (queued behind its active run).
///
/// The model, the capabilities and every secret the run needs are checked before anything is
/// stored. With a `client_request_id`, a repeated submit (same user, same id, within a day)
/// queues nothing and answers `200` with the first submit's session and run.
#[utoipa::path(
    post,
    path = "/api/v1/tasks",
    operation_id = "create_task",
    tag = "tasks",
    request_body = CreateTaskRequest,
    responses(
        (status = 201, description = "Queued.", body = CreateTaskResponse),
        (status = 200, description = "A repeat of an earlier submit with the same `client_request_id`: nothing queued; the first submit's session and run, and the run's status now.", body = CreateTaskResponse),
        (status = 400, description = "The repository is not acceptable (`invalid_git`), or a follow-up names one.", body = ErrorBody),
        (status = 404, description = "No such session, project, attachment, preset or capability of the caller's (`not_found`).", body = ErrorBody),
        (status = 422, description = "A field is not acceptable (`validation_error`), the model is not offered (`unknown_model`), or a secret the run needs is missing (`unknown_secret`).", body = ErrorBody),
    ),
)]
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    Json(req): Json<CreateTaskRequest>,
) -> ApiResult<(StatusCode, Json<CreateTaskResponse>)> {
    validate(&req, state.settings.git_allow_http)?;
    let mut tx = state.pool.begin().await?;
    if let Some(client_id) = req.client_request_id.as_deref()
        && let Some((session_id, run_id, status)) =
            tasks::earlier_submit(&mut tx, user.id, client_id).await?
    {
        tx.rollback().await?;
        tracing::info!(%session_id, %run_id, "task submit repeated; nothing queued");
        return Ok((
            StatusCode::OK,
            Json(CreateTaskResponse {
                session_id,
                run_id,
                status: crate::queue::status::parse(&status)?,
            }),
        ));
    }
    let queued = tasks::queue(
        &mut tx,
        &NewTask {
            user_id: user.id,
            prompt: &req.prompt,
            session_id: req.session_id,
            title: None,
            model: req.model.clone(),
            permission_mode: req.permission_mode,
            capabilities: req.capability_choice(),
            kind: RunKind::Interactive,
            scheduled_task_id: None,
            max_attempts: state.settings.run_max_attempts,
            git: req.git.clone(),
            project_id: req.project_id,
            catalog: &state.catalog,
        },
    )
    .await?;
    crate::attachments::link_to_run(&mut tx, user.id, queued.run_id, &req.attachments).await?;
    if let Some(client_id) = req.client_request_id.as_deref() {
        tasks::remember_submit(&mut tx, user.id, client_id, &queued).await?;
    }
    tx.commit().await?;
    let (session_id, run_id) = (queued.session_id, queued.run_id);
    // Wake this replica's claimers at once; the trigger's NOTIFY reaches the other replicas.
    state.queue.bump();
    if let (Some(titles), Some(fallback)) = (&state.titles, queued.new_title) {
        titles.spawn_for(state.pool.clone(), session_id, req.prompt.clone(), fallback);
    }
    tracing::info!(%session_id, %run_id, "task queued");
    Ok((
        StatusCode::CREATED,
        Json(CreateTaskResponse {
            session_id,
            run_id,
            status: RunStatus::Queued,
        }),
    ))
}
