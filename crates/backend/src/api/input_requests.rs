//! `/sessions/{id}/input-requests` and `/input-requests/{id}/answer`: what a session's runs wait
//! on, and the owner's answers ([`crate::input_requests`]).

use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use protocol::input::{AnswerInputRequest, InputRequestList, InputRequestStatus, InputRequestView};
use serde::Deserialize;
use uuid::Uuid;

use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path, Query};
use crate::input_requests;
use crate::sessions;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/sessions/{id}/input-requests", get(list))
        .route("/input-requests/{id}/answer", post(answer))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    #[serde(default)]
    status: Option<InputRequestStatus>,
}

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
