//! `/sessions/{id}/input-requests` and `/input-requests/{id}/answer`: what a session's runs wait
//! on, and the owner's answers ([`crate::input_requests`]).

use axum::extract::State;
use protocol::ErrorBody;
use protocol::input::{AnswerInputRequest, InputRequestList, InputRequestStatus, InputRequestView};
use serde::Deserialize;
use uuid::Uuid;

use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path, Query};
use crate::input_requests;
use crate::sessions;
use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(answer))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    /// Only the requests in this state.
    #[serde(default)]
    status: Option<InputRequestStatus>,
}

/// What the session's runs asked of a person, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/sessions/{id}/input-requests",
    operation_id = "list_input_requests",
    tag = "input-requests",
    params(("id" = Uuid, Path, description = "The session's id."), ListQuery),
    responses(
        (status = 200, description = "The requests.", body = InputRequestList),
        (status = 404, description = "No such session of the caller's (`not_found`).", body = ErrorBody),
    ),
)]
async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<InputRequestList>> {
    sessions::ensure_owned(&state.pool, user.id, id).await?;
    Ok(Json(InputRequestList {
        requests: input_requests::list(&state.pool, id, q.status).await?,
    }))
}

/// Answers a pending input request (allow or deny a tool, answer questions, approve a plan).
#[utoipa::path(
    post,
    path = "/api/v1/input-requests/{id}/answer",
    operation_id = "answer_input_request",
    tag = "input-requests",
    params(("id" = Uuid, Path, description = "The input request's id.")),
    request_body = AnswerInputRequest,
    responses(
        (status = 200, description = "The request, answered.", body = InputRequestView),
        (status = 404, description = "No such request in the caller's sessions (`not_found`).", body = ErrorBody),
        (status = 409, description = "It was already answered (`already_answered`).", body = ErrorBody),
        (status = 410, description = "It expired, or its run ended (`request_expired`).", body = ErrorBody),
        (status = 422, description = "The answer does not fit the request (`validation_error`).", body = ErrorBody),
    ),
)]
#[tracing::instrument(skip_all, fields(user_id = %user.id, request_id = %id))]
async fn answer(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
    Json(body): Json<AnswerInputRequest>,
) -> ApiResult<Json<InputRequestView>> {
    let email: Option<String> = sqlx::query_scalar("SELECT email FROM users WHERE id = $1")
        .bind(user.id)
        .fetch_optional(&state.pool)
        .await?;
    let email = email.ok_or(ApiError::NotFound("input request"))?;
    let view = input_requests::answer::answer(&state.pool, user.id, &email, id, &body).await?;
    // This replica's polls at once; the NOTIFY committed with the answer reaches the others.
    state.inputs.bump(view.run_id);
    Ok(Json(view))
}
