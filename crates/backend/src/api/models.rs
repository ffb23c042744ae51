//! `GET /models`: the models this deployment offers ([`crate::models`]).

use axum::extract::State;
use protocol::models::ModelList;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::CurrentUser;
use crate::error::ApiResult;
use crate::extract::Json;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list))
}

/// The models this deployment offers, with their prices, and the default.
#[utoipa::path(
    get,
    path = "/api/v1/models",
    operation_id = "list_models",
    tag = "models",
    responses((status = 200, description = "The catalog.", body = ModelList)),
)]
async fn list(State(state): State<AppState>, _user: CurrentUser) -> ApiResult<Json<ModelList>> {
    Ok(Json(state.catalog.list()))
}
