//! `GET /runs/{id}`.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use protocol::api::RunView;
use uuid::Uuid;

use crate::auth::CurrentUser;
use crate::error::ApiResult;
use crate::extract::{Json, Path};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/runs/{id}", get(get_run))
}

async fn get_run(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<RunView>> {
    Ok(Json(
        crate::runs::get_owned(&state.pool, user.id, id).await?,
    ))
}
