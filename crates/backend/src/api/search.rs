//! `/search`: the caller's past work — session titles, run prompts, assistant text, changed
//! files' paths — ranked, a page at a time ([`crate::search`]).

use axum::extract::State;
use protocol::ErrorBody;
use protocol::search::{DEFAULT_LIMIT, MAX_LIMIT, SearchResults};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Query};
use crate::search::{self, Cursor};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(find))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct SearchQuery {
    /// What to look for, 1 to 200 characters: words (all must occur, whole or as part of a
    /// word), `"a phrase"`, `or`, `-excluded`.
    #[serde(default)]
    q: String,
    /// Only this project's sessions (another user's or a missing project answers 404).
    #[serde(default)]
    project_id: Option<Uuid>,
    /// Hits per page, 1 to 50.
    #[serde(default = "default_limit")]
    #[param(default = 20, minimum = 1, maximum = 50)]
    limit: i64,
    /// `next_cursor` of the previous page (same `q` and filters).
    #[serde(default)]
    cursor: Option<String>,
}

fn default_limit() -> i64 {
    DEFAULT_LIMIT
}

/// Searches the caller's sessions: titles, prompts, the assistant's text and changed files.
#[utoipa::path(
    get,
    path = "/api/v1/search",
    operation_id = "search",
    tag = "search",
    params(SearchQuery),
    responses(
        (status = 200, description = "A page of hits, best first; `next_cursor` is null on the last.", body = SearchResults),
        (status = 400, description = "The cursor is not one this API returned (`invalid_cursor`), or the query string does not parse (`invalid_query`).", body = ErrorBody),
        (status = 404, description = "No such project of the caller's (`not_found`).", body = ErrorBody),
        (status = 422, description = "`q` is empty, too long or has no word, or `limit` is out of range (`validation_error`).", body = ErrorBody),
    ),
)]
async fn find(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(q): Query<SearchQuery>,
) -> ApiResult<Json<SearchResults>> {
    if !(1..=MAX_LIMIT).contains(&q.limit) {
        return Err(ApiError::validation(format!(
            "limit must be between 1 and {MAX_LIMIT}"
        )));
    }
    let parsed = search::parse_query(&q.q)?;
    let after = q.cursor.as_deref().map(Cursor::decode).transpose()?;
    if let Some(project) = q.project_id {
        crate::projects::ensure_owned(&mut *state.pool.acquire().await?, user.id, project).await?;
    }
    Ok(Json(
        search::search(&state.pool, user.id, &parsed, q.project_id, q.limit, after).await?,
    ))
}
