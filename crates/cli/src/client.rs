//! The HTTP side of the API (`/api/v1`): one method per route the CLI uses, typed with the
//! `protocol` crate's wire types.
//!
//! Every answer other than 2xx becomes [`Error::Api`] with the server's `error.code` and
//! `error.message` (or the bare status when the body is not the platform's error shape); a 2xx
//! body that does not parse is [`Error::Protocol`], never a panic. The token goes in
//! `Authorization: Bearer` to the server only: presigned file URLs are fetched without it.

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use protocol::accounts::{CreateTokenRequest, CreatedToken};
use protocol::api::{
    AuthResponse, CancelResponse, CreateTaskRequest, CreateTaskResponse, Credentials, EventsPage,
    MeResponse, RunView, SessionDetail, SessionList,
};
use protocol::files::{ArchiveLink, AttachmentView, RunFiles};
use protocol::projects::ProjectList;
use protocol::{ErrorBody, ErrorCode};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use uuid::Uuid;

use crate::error::{Error, Result};

/// How long a JSON call may take, all in.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a download or upload may go without a byte.
const READ_TIMEOUT: Duration = Duration::from_secs(60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The multipart field the attachments route reads.
const FILE_FIELD: &str = "file";

/// A client of one server, with or without a token.
#[derive(Clone)]
pub struct Client {
    server: String,
    token: Option<String>,
    http: reqwest::Client,
}

impl Client {
    /// `server` is a normalized base URL (see [`crate::config::normalize_server`]).
    pub fn new(server: &str, token: Option<String>) -> Result<Self> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("workcell-cli/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(READ_TIMEOUT)
            .build()
            .map_err(|e| Error::Http {
                url: server.to_owned(),
                source: e,
            })?;
        Ok(Client {
            server: server.to_owned(),
            token,
            http,
        })
    }

    /// The same server with another credential.
    pub fn with_token(&self, token: Option<String>) -> Self {
        Client {
            token,
            ..self.clone()
        }
    }

    pub fn server(&self) -> &str {
        &self.server
    }

    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.server)
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let req = self.http.request(method, self.url(path));
        match &self.token {
            Some(t) => req.bearer_auth(t),
            None => req,
        }
    }

    async fn call<T: DeserializeOwned>(&self, req: RequestBuilder, what: &str) -> Result<T> {
        let res = send(req.timeout(CALL_TIMEOUT), &self.server).await?;
        let res = check(res).await?;
        let body = res.bytes().await.map_err(|e| Error::Http {
            url: self.server.clone(),
            source: e,
        })?;
        serde_json::from_slice(&body).map_err(|e| Error::Protocol {
            what: what.to_owned(),
            detail: e.to_string(),
        })
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.call(self.request(Method::GET, path), &format!("GET {path}"))
            .await
    }

    async fn post<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T> {
        self.call(
            self.request(Method::POST, path).json(body),
            &format!("POST {path}"),
        )
        .await
    }

    /// `GET /auth/me`: who the credential is, and the server's auth mode.
    pub async fn me(&self) -> Result<MeResponse> {
        self.get("/auth/me").await
    }

    /// `POST /auth/login`: a sign-in token (short-lived; used only to create an API token).
    pub async fn login(&self, credentials: &Credentials) -> Result<AuthResponse> {
        self.post("/auth/login", credentials).await
    }

    /// `POST /tokens`, with the client's token (a sign-in token).
    pub async fn create_token(&self, req: &CreateTokenRequest) -> Result<CreatedToken> {
        self.post("/tokens", req).await
    }

    pub async fn create_task(&self, req: &CreateTaskRequest) -> Result<CreateTaskResponse> {
        self.post("/tasks", req).await
    }

    pub async fn sessions(&self, limit: u32) -> Result<SessionList> {
        self.get(&format!("/sessions?limit={limit}")).await
    }

    pub async fn session(&self, id: Uuid) -> Result<SessionDetail> {
        self.get(&format!("/sessions/{id}")).await
    }

    /// One page of a session's events after `after`.
    pub async fn events(&self, session: Uuid, after: i64, limit: u32) -> Result<EventsPage> {
        self.get(&format!(
            "/sessions/{session}/events?after={after}&limit={limit}"
        ))
        .await
    }

    pub async fn run(&self, id: Uuid) -> Result<RunView> {
        self.get(&format!("/runs/{id}")).await
    }

    pub async fn cancel(&self, session: Uuid) -> Result<CancelResponse> {
        self.post(
            &format!("/sessions/{session}/cancel"),
            &serde_json::json!({}),
        )
        .await
    }

    pub async fn run_files(&self, run: Uuid) -> Result<RunFiles> {
        self.get(&format!("/runs/{run}/files")).await
    }

    pub async fn archive(&self, run: Uuid) -> Result<ArchiveLink> {
        self.get(&format!("/runs/{run}/archive")).await
    }

    pub async fn projects(&self) -> Result<ProjectList> {
        self.get("/projects").await
    }

    /// `POST /attachments`: streams the file as the multipart field `file`.
    pub async fn upload_attachment(&self, path: &Path) -> Result<AttachmentView> {
        let file = tokio::fs::File::open(path)
            .await
            .map_err(|e| Error::io(path.display(), e))?;
        let len = file
            .metadata()
            .await
            .map_err(|e| Error::io(path.display(), e))?
            .len();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| Error::Usage(format!("{} is not a file", path.display())))?;
        let boundary = format!("workcell-{}", Uuid::new_v4().simple());
        let (head, tail) = multipart_frame(&boundary, &name);
        let content_length = head.len() as u64 + len + tail.len() as u64;
        let body = multipart_body(head, tokio_util::io::ReaderStream::new(file), tail);
        let req = self
            .request(Method::POST, "/attachments")
            .header(
                reqwest::header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .header(reqwest::header::CONTENT_LENGTH, content_length)
            .body(reqwest::Body::wrap_stream(body));
        let res = check(send(req, &self.server).await?).await?;
        let bytes = res.bytes().await.map_err(|e| Error::Http {
            url: self.server.clone(),
            source: e,
        })?;
        serde_json::from_slice(&bytes).map_err(|e| Error::Protocol {
            what: "POST /attachments".into(),
            detail: e.to_string(),
        })
    }

    /// Downloads a URL the API handed out (a presigned object URL, or a path on the server)
    /// into `out`, without the token; returns the number of bytes written.
    pub async fn download<W: AsyncWrite + Unpin>(&self, url: &str, out: &mut W) -> Result<u64> {
        let url = self.absolute(url);
        // A presigned URL's query is a credential: errors name the object only.
        let shown = url.split('?').next().unwrap_or_default().to_owned();
        let failed = |e: reqwest::Error| Error::Http {
            url: shown.clone(),
            source: e.without_url(),
        };
        let res = self.http.get(&url).send().await.map_err(failed)?;
        let res = check(res).await?;
        let mut stream = res.bytes_stream();
        let mut written = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(failed)?;
            out.write_all(&chunk)
                .await
                .map_err(|e| Error::io("output", e))?;
            written += chunk.len() as u64;
        }
        out.flush().await.map_err(|e| Error::io("output", e))?;
        Ok(written)
    }

    /// A URL as given when absolute; a path joined to the server's origin.
    fn absolute(&self, url: &str) -> String {
        if url.starts_with("http://") || url.starts_with("https://") {
            return url.to_owned();
        }
        let after_scheme = self.server.find("://").map_or(0, |i| i + 3);
        let origin_end = self.server[after_scheme..]
            .find('/')
            .map_or(self.server.len(), |i| after_scheme + i);
        format!(
            "{}/{}",
            &self.server[..origin_end],
            url.trim_start_matches('/')
        )
    }
}

async fn send(req: RequestBuilder, url: &str) -> Result<Response> {
    req.send().await.map_err(|e| Error::Http {
        url: url.to_owned(),
        source: e,
    })
}

/// A 2xx answer as is; anything else as [`Error::Api`].
async fn check(res: Response) -> Result<Response> {
    let status = res.status();
    if status.is_success() {
        return Ok(res);
    }
    let body = res.text().await.unwrap_or_default();
    Err(api_error(status, &body))
}

/// The error an answer's status and body stand for.
pub fn api_error(status: StatusCode, body: &str) -> Error {
    match serde_json::from_str::<ErrorBody>(body) {
        Ok(b) => Error::Api {
            status: status.as_u16(),
            code: b.error.code,
            message: b.error.message,
        },
        Err(_) => {
            let snippet: String = body.trim().chars().take(200).collect();
            let reason = status.canonical_reason().unwrap_or("error");
            Error::Api {
                status: status.as_u16(),
                code: ErrorCode::Unknown,
                message: if snippet.is_empty() || snippet.starts_with('<') {
                    reason.to_owned()
                } else {
                    format!("{reason}: {snippet}")
                },
            }
        }
    }
}

/// The multipart text before and after the file's bytes.
fn multipart_frame(boundary: &str, file_name: &str) -> (Bytes, Bytes) {
    // Quotes and line breaks cannot appear inside the quoted parameter.
    let name: String = file_name
        .chars()
        .map(|c| match c {
            '"' => '\'',
            '\r' | '\n' => ' ',
            c => c,
        })
        .collect();
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"{FILE_FIELD}\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    );
    let tail = format!("\r\n--{boundary}--\r\n");
    (Bytes::from(head), Bytes::from(tail))
}

fn multipart_body(
    head: Bytes,
    file: impl Stream<Item = std::io::Result<Bytes>> + Send + 'static,
    tail: Bytes,
) -> impl Stream<Item = std::io::Result<Bytes>> + Send + 'static {
    futures::stream::once(async move { Ok(head) })
        .chain(file)
        .chain(futures::stream::once(async move { Ok(tail) }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_become_api_errors() {
        let e = api_error(
            StatusCode::NOT_FOUND,
            r#"{"error":{"code":"not_found","message":"session not found"}}"#,
        );
        match e {
            Error::Api {
                status,
                code,
                message,
            } => {
                assert_eq!(status, 404);
                assert_eq!(code, ErrorCode::NotFound);
                assert_eq!(message, "session not found");
            }
            other => panic!("{other:?}"),
        }
        let e = api_error(StatusCode::BAD_GATEWAY, "<html>oops</html>");
        assert_eq!(e.to_string(), "Bad Gateway (unknown, HTTP 502)");
        let e = api_error(StatusCode::UNAUTHORIZED, "");
        assert_eq!(e.exit_code(), 2);
    }

    #[tokio::test]
    async fn multipart_body_frames_the_file() {
        let (head, tail) = multipart_frame("B", "a\"b.txt");
        let file = futures::stream::iter([Ok(Bytes::from_static(b"hello"))]);
        let parts: Vec<Bytes> = multipart_body(head, file, tail)
            .map(|r| r.unwrap())
            .collect()
            .await;
        let all: Vec<u8> = parts.concat();
        assert_eq!(
            String::from_utf8(all).unwrap(),
            "--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a'b.txt\"\r\nContent-Type: application/octet-stream\r\n\r\nhello\r\n--B--\r\n"
        );
    }

    #[test]
    fn relative_urls_join_the_server_origin() {
        let c = Client::new("https://wc.example/sub", None).unwrap();
        assert_eq!(c.absolute("/x/y"), "https://wc.example/x/y");
        assert_eq!(c.absolute("https://s3/obj?sig"), "https://s3/obj?sig");
        let c = Client::new("http://127.0.0.1:8000", None).unwrap();
        assert_eq!(c.absolute("/f"), "http://127.0.0.1:8000/f");
    }
}
