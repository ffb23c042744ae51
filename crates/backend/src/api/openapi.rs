//! The API reference: an OpenAPI 3.1 document generated from the code, served at
//! `GET /api/v1/openapi.json` and rendered by Swagger UI at `GET /api/docs` (its files are built
//! into the binary: `utoipa-swagger-ui`'s `vendored` feature, no CDN).
//!
//! The document has three sources, none of them written twice:
//! - schemas: the protocol crate's wire types (`utoipa::ToSchema` behind its `openapi` feature,
//!   following their serde attributes);
//! - operations: each handler's `#[utoipa::path]`, registered together with its route by
//!   `utoipa_axum::routes!` (so a route cannot exist without its operation; `tests/openapi.rs`);
//! - what every operation shares, added here by [`finish`] from the code that decides it: the
//!   credential a route needs ([`crate::auth::scope::required`]), and the error answers of the
//!   extractors and layers every route passes through (bad path or query, bad JSON, body limits,
//!   rate limits, timeouts, server errors), all in the one error shape `protocol::ErrorBody`.
//!
//! An operation's annotation says what is particular to it: its success answer and the errors
//! its own code answers (404, 409, a 422 with its own code…), and `security(())` when it needs no
//! credential. Every other public operation takes a sign-in (bearer or cookie) or a `wc_` token.

use std::sync::{Arc, LazyLock};

use axum::Extension;
use axum::body::Bytes;
use axum::http::{HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use protocol::ErrorBody;
use utoipa::OpenApi;
use utoipa::openapi::path::{Operation, ParameterIn, PathItem};
use utoipa::openapi::response::Response as ResponseObject;
use utoipa::openapi::schema::{KnownFormat, Schema, SchemaFormat};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{Content, Header, Ref, RefOr};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::COOKIE_NAME;
use crate::auth::scope::{self, Requirement};
use crate::error::{ApiError, ApiResult};
use crate::extract::Path;
use crate::state::AppState;

/// Where the document is served.
pub const DOCUMENT_PATH: &str = "/api/v1/openapi.json";
/// Where Swagger UI renders it.
pub const DOCS_PATH: &str = "/api/docs";

/// The parts of the document no handler states: its info, servers, tags and the schemas that no
/// operation names (the WebSocket's messages).
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Workcell API",
        version = env!("CARGO_PKG_VERSION"),
        description = "The HTTP API of Workcell, a self-hosted agent task platform, generated from \
            the code.\n\n\
            **Authentication.** Public routes take a sign-in — the login token of \
            `POST /api/v1/auth/login` as `Authorization: Bearer <token>` or the `workcell_token` \
            cookie the login sets — or a personal access token (`Authorization: Bearer wc_…`, \
            made with `POST /api/v1/tokens`). Each operation says which scope it needs \
            (`tasks:write`, `sessions:read`, `files:read`, `admin`). The routes under \
            `/api/v1/internal` are the executor managers' and take `X-Internal-Token`.\n\n\
            **Errors.** Every answer that is not a success is \
            `{\"error\":{\"code\":\"…\",\"message\":\"…\"}}` (`ErrorBody`); decide by `code` and \
            status, never by the message.",
        license(name = "MIT", identifier = "MIT"),
    ),
    servers((url = "/", description = "This server")),
    tags(
        (name = "auth", description = "Signing in and out, registration, passwords, the sign-in screen's settings, identity providers."),
        (name = "tokens", description = "Personal access tokens (`wc_…`): only a sign-in manages them."),
        (name = "admin", description = "Users, invites and every user's usage (the `admin` scope)."),
        (name = "tasks", description = "Giving the agent a task: a new session or a follow-up."),
        (name = "sessions", description = "Conversations: list, read, rename, delete, events, cancel, the queue of follow-ups."),
        (name = "search", description = "Finding past work: session titles, prompts, the assistant's text and changed files, ranked."),
        (name = "input-requests", description = "What a run waits on from a person, and the answers."),
        (name = "runs", description = "Runs, retries, and the files a run exported (presigned URLs)."),
        (name = "attachments", description = "Files uploaded for tasks."),
        (name = "scheduled-tasks", description = "Prompts that run on a cron schedule."),
        (name = "projects", description = "Projects: grouped sessions, defaults, instructions and files."),
        (name = "capabilities", description = "The capabilities library: skills, MCP servers, slash commands, subagents, presets, instructions."),
        (name = "secrets", description = "The caller's secrets (values are never shown)."),
        (name = "models", description = "The model catalog."),
        (name = "usage", description = "Usage analytics: tokens, cost, runs, failures and durations per day, model or project."),
        (name = "live", description = "The live-updates WebSocket."),
        (name = "internal", description = "The executor managers' API (`X-Internal-Token`); not for browsers or API clients."),
        (name = "health", description = "Liveness, readiness and metrics."),
        (name = "docs", description = "This reference."),
    ),
    components(schemas(protocol::live::ClientMessage, protocol::live::ServerMessage)),
)]
struct ApiDoc;

/// The document before any route is merged into it.
pub fn base() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The document as served: its JSON, made once when the router is built.
#[derive(Clone)]
pub struct Document(Arc<Bytes>);

impl Document {
    pub fn new(doc: utoipa::openapi::OpenApi) -> Self {
        // Serializing plain data into memory does not fail; an empty object would be caught by
        // `tests/openapi.rs`.
        let json = serde_json::to_vec_pretty(&doc).unwrap_or_else(|e| {
            tracing::error!(error = %e, "the OpenAPI document does not serialize");
            b"{}".to_vec()
        });
        Document(Arc::new(Bytes::from(json)))
    }
}

/// The reference's routes: the document and its rendering.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(document))
        .routes(routes!(docs_page))
        .routes(routes!(docs_page_slash))
        .routes(routes!(docs_file))
}

/// The OpenAPI document (this one).
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    operation_id = "openapi_document",
    tag = "docs",
    security(()),
    responses(
        (status = 200, description = "The OpenAPI 3.1 document of this API.", content_type = "application/json", body = serde_json::Value),
    ),
)]
async fn document(Extension(doc): Extension<Document>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        Bytes::clone(&doc.0),
    )
        .into_response()
}

/// Swagger UI's settings: the document's URL, read by its `swagger-initializer.js`.
static SWAGGER_CONFIG: LazyLock<Arc<utoipa_swagger_ui::Config<'static>>> = LazyLock::new(|| {
    Arc::new(
        utoipa_swagger_ui::Config::new([DOCUMENT_PATH])
            .try_it_out_enabled(true)
            .persist_authorization(false)
            .display_operation_id(false),
    )
});

/// The page: Swagger UI's files, all from this server (absolute paths, so the page works at
/// `/api/docs` and `/api/docs/` and behind the web UI's same-origin proxy).
const DOCS_HTML: &str = r#"<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <title>Workcell API</title>
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <link rel="stylesheet" type="text/css" href="/api/docs/swagger-ui.css">
    <link rel="stylesheet" type="text/css" href="/api/docs/index.css">
    <link rel="icon" type="image/png" href="/api/docs/favicon-32x32.png" sizes="32x32">
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="/api/docs/swagger-ui-bundle.js" charset="UTF-8"></script>
    <script src="/api/docs/swagger-ui-standalone-preset.js" charset="UTF-8"></script>
    <script src="/api/docs/swagger-initializer.js" charset="UTF-8"></script>
  </body>
</html>
"#;

fn html_page() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        )],
        DOCS_HTML,
    )
        .into_response()
}

/// This reference, rendered by Swagger UI.
#[utoipa::path(
    get,
    path = "/api/docs",
    operation_id = "docs_page",
    tag = "docs",
    security(()),
    responses(
        (status = 200, description = "The HTML page (its scripts and styles load from `/api/docs/…`).", content_type = "text/html", body = String),
    ),
)]
async fn docs_page() -> Response {
    html_page()
}

/// The same page at `/api/docs/`.
#[utoipa::path(
    get,
    path = "/api/docs/",
    operation_id = "docs_page_slash",
    tag = "docs",
    security(()),
    responses(
        (status = 200, description = "The HTML page.", content_type = "text/html", body = String),
    ),
)]
async fn docs_page_slash() -> Response {
    html_page()
}

/// One of the page's files (scripts, styles, icons), built into the binary.
#[utoipa::path(
    get,
    path = "/api/docs/{file}",
    operation_id = "docs_file",
    tag = "docs",
    security(()),
    params(("file" = String, Path, description = "A file of Swagger UI's distribution.", example = "swagger-ui-bundle.js")),
    responses(
        (status = 200, description = "The file, with its content type.", content_type = "application/octet-stream", body = BinaryFile),
        (status = 404, description = "No such file (`route_not_found`).", body = ErrorBody),
    ),
)]
async fn docs_file(Path(file): Path<String>) -> ApiResult<Response> {
    if file == "index.html" {
        return Ok(html_page());
    }
    match utoipa_swagger_ui::serve(&file, SWAGGER_CONFIG.clone()) {
        Ok(Some(found)) => {
            let content_type = HeaderValue::from_str(&found.content_type)
                .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
            Ok((
                [(header::CONTENT_TYPE, content_type)],
                found.bytes.into_owned(),
            )
                .into_response())
        }
        Ok(None) => Err(ApiError::NoRoute),
        Err(e) => Err(ApiError::Internal(format!("Swagger UI file {file}: {e}"))),
    }
}

/// A file's bytes, as they go on the wire.
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)]
pub(crate) struct BinaryFile(Vec<u8>);

// ---------------------------------------------------------------------------------------------
// What every operation shares
// ---------------------------------------------------------------------------------------------

/// The error answers every route may give, by the layer or extractor that gives them. Each is a
/// response component (`#/components/responses/<name>`) with the `ErrorBody` schema.
const SHARED_ERRORS: &[(&str, &str)] = &[
    (
        "BadPath",
        "A path parameter is malformed, e.g. not a UUID (`invalid_path`).",
    ),
    (
        "BadQuery",
        "The query string does not parse or names an unknown parameter (`invalid_query`).",
    ),
    (
        "BadJson",
        "The body is not JSON (`malformed_json`) or not readable (`bad_body`).",
    ),
    (
        "BadMultipart",
        "The body is not `multipart/form-data` with one part named `file` (`bad_multipart`, \
         `missing_file`).",
    ),
    (
        "Unauthorized",
        "No credential, or one that is invalid, expired, revoked or logged out (`unauthorized`).",
    ),
    (
        "Forbidden",
        "The credential may not do this (`insufficient_scope`), or its account is disabled \
         (`account_disabled`).",
    ),
    (
        "PayloadTooLarge",
        "The body is larger than this route accepts (`payload_too_large`).",
    ),
    (
        "UnsupportedMediaType",
        "The body is not `application/json` (`unsupported_media_type`).",
    ),
    (
        "ValidationError",
        "The JSON does not fit the request's schema, or a field's value is not acceptable \
         (`validation_error`).",
    ),
    (
        "RateLimited",
        "Too many requests from this user or address (`rate_limited`); `Retry-After` says when \
         to try again.",
    ),
    (
        "InternalError",
        "The server failed (`internal`); the cause is logged, the message is generic.",
    ),
    (
        "Unavailable",
        "The database is overloaded or unreachable (`unavailable`), the request took longer than \
         `REQUEST_TIMEOUT_SECONDS` (`timeout`), or the server is shutting down (`shutting_down`).",
    ),
    (
        "Error",
        "Any other error, in the one error shape `{\"error\":{\"code\",\"message\"}}`.",
    ),
];

fn error_content() -> Content {
    Content::new(Some(RefOr::Ref(Ref::from_schema_name("ErrorBody"))))
}

fn shared(name: &str) -> RefOr<ResponseObject> {
    RefOr::Ref(Ref::from_response_name(name))
}

/// Adds what every operation shares to a document whose operations come from the handlers'
/// annotations: security schemes, each operation's credential (from [`scope::required`]) and the
/// error answers of the layers and extractors it passes through.
pub fn finish(mut doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT or wc_ token")
                .description(Some(
                    "A login token (`POST /api/v1/auth/login`, `POST /api/v1/auth/register`) or \
                     a personal access token `wc_…` (`POST /api/v1/tokens`). The scopes listed \
                     with an operation are those its credential must hold.",
                ))
                .build(),
        ),
    );
    components.add_security_scheme(
        "cookie",
        SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
            COOKIE_NAME,
            "The login token as the browser keeps it (httpOnly, set by login and register).",
        ))),
    );
    components.add_security_scheme(
        "internal_token",
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
            "X-Internal-Token",
            "`INTERNAL_API_TOKEN`, held by the executor managers only.",
        ))),
    );
    components.add_security_scheme(
        "metrics_token",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(
                    "`METRICS_TOKEN`, when the operator set one (otherwise `/metrics` is open).",
                ))
                .build(),
        ),
    );
    for (name, description) in SHARED_ERRORS {
        let mut response = ResponseObject::new(*description);
        response
            .content
            .insert("application/json".to_owned(), error_content());
        if *name == "RateLimited" {
            let mut retry_after = Header::new(
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::Integer),
            );
            retry_after.description = Some("Seconds to wait before trying again.".to_owned());
            response
                .headers
                .insert(header::RETRY_AFTER.as_str().to_owned(), retry_after);
        }
        components
            .responses
            .insert((*name).to_owned(), RefOr::T(response));
    }

    for (path, item) in doc.paths.paths.iter_mut() {
        for (method, op) in operations_mut(item) {
            finish_operation(path, &method, op);
        }
    }
    doc
}

/// The operations of a path item with their methods.
fn operations_mut(item: &mut PathItem) -> Vec<(Method, &mut Operation)> {
    [
        (Method::GET, &mut item.get),
        (Method::PUT, &mut item.put),
        (Method::POST, &mut item.post),
        (Method::DELETE, &mut item.delete),
        (Method::OPTIONS, &mut item.options),
        (Method::HEAD, &mut item.head),
        (Method::PATCH, &mut item.patch),
        (Method::TRACE, &mut item.trace),
    ]
    .into_iter()
    .filter_map(|(m, op)| op.as_mut().map(|op| (m, op)))
    .collect()
}

/// Who may call a route.
enum Caller {
    /// An executor manager (`X-Internal-Token`).
    Manager,
    /// A user's credential, with what the route requires of it.
    User(Requirement),
    /// Anyone: the annotation said `security(())` (or lists its own schemes).
    Stated,
}

fn finish_operation(path: &str, method: &Method, op: &mut Operation) {
    let caller = if path.starts_with("/api/v1/internal/") {
        Caller::Manager
    } else if op.security.is_some() {
        Caller::Stated
    } else {
        let relative = path.strip_prefix("/api/v1").unwrap_or(path);
        Caller::User(scope::required(method, relative))
    };
    match &caller {
        Caller::Manager => {
            op.security = Some(vec![SecurityRequirement::new(
                "internal_token",
                Vec::<String>::new(),
            )]);
        }
        Caller::User(requirement) => {
            let scopes: Vec<String> = match requirement {
                Requirement::Scope(s) => vec![s.as_str().to_owned()],
                Requirement::Any | Requirement::SignIn => Vec::new(),
            };
            op.security = Some(vec![
                SecurityRequirement::new("bearer", scopes.clone()),
                SecurityRequirement::new("cookie", scopes),
            ]);
            let note = credential_note(*requirement);
            op.description = Some(match op.description.take() {
                Some(d) if !d.is_empty() => format!("{d}\n\n{note}"),
                _ => note,
            });
        }
        Caller::Stated => {
            // `security(())` alone: no credential at all. An empty list says so in OpenAPI.
            if op
                .security
                .as_ref()
                .is_some_and(|s| s.iter().all(|r| *r == SecurityRequirement::default()))
            {
                op.security = Some(Vec::new());
            }
        }
    }

    let mut add = |status: &str, name: &str| {
        op.responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| shared(name));
    };
    let params = op.parameters.as_deref().unwrap_or_default();
    if params.iter().any(|p| {
        matches!(p.parameter_in, ParameterIn::Path)
            && p.schema.as_ref().is_some_and(|s| {
                matches!(s, RefOr::T(Schema::Object(o))
                    if o.format == Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)))
            })
    }) {
        add("400", "BadPath");
    }
    if params
        .iter()
        .any(|p| matches!(p.parameter_in, ParameterIn::Query))
    {
        add("400", "BadQuery");
    }
    let body_types: Vec<String> = op
        .request_body
        .as_ref()
        .map(|b| b.content.keys().cloned().collect())
        .unwrap_or_default();
    if body_types.iter().any(|t| t == "application/json") {
        add("400", "BadJson");
        add("413", "PayloadTooLarge");
        add("415", "UnsupportedMediaType");
        add("422", "ValidationError");
    }
    if body_types.iter().any(|t| t == "multipart/form-data") {
        add("400", "BadMultipart");
        add("413", "PayloadTooLarge");
    }
    match caller {
        Caller::Manager => add("401", "Unauthorized"),
        Caller::User(_) => {
            add("401", "Unauthorized");
            add("403", "Forbidden");
        }
        Caller::Stated => {}
    }
    // The public API's rate limits (`protection::rate_limit`) and timeouts; health, metrics and
    // this reference are outside them.
    let public = path.starts_with("/api/v1/")
        && !path.starts_with("/api/v1/internal/")
        && !path.starts_with("/api/v1/health")
        && path != DOCUMENT_PATH;
    if public {
        add("429", "RateLimited");
    }
    if !path.starts_with(DOCS_PATH) && path != DOCUMENT_PATH && path != "/metrics" {
        add("500", "InternalError");
        add("503", "Unavailable");
    }
    add("default", "Error");
}

/// The sentence an operation's description ends with: the credential it takes.
fn credential_note(requirement: Requirement) -> String {
    match requirement {
        Requirement::Scope(s) => format!(
            "**Credential:** the `{}` scope — a sign-in (bearer login token or the \
             `workcell_token` cookie) of a user whose role has it, or a `wc_` token holding it.",
            s.as_str()
        ),
        Requirement::SignIn => "**Credential:** a sign-in (bearer login token or the \
            `workcell_token` cookie); a `wc_` API token is refused (403 `insufficient_scope`)."
            .to_owned(),
        Requirement::Any => "**Credential:** any valid one — a sign-in (bearer login token or the \
            `workcell_token` cookie) or a `wc_` API token."
            .to_owned(),
    }
}
