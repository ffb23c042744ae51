//! `GET /models`: the models this deployment offers ([`crate::models`]).

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use protocol::models::ModelList;

use crate::auth::CurrentUser;
use crate::error::ApiResult;
use crate::extract::Json;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/models", get(list))
}

async fn list(State(state): State<AppState>, _user: CurrentUser) -> ApiResult<Json<ModelList>> {
    Ok(Json(state.catalog.list()))
}
