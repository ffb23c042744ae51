//! The request id that ties one piece of work together across the services.
//!
//! Every service accepts an `X-Request-ID` at its edge ([`crate::http::edge`]) or makes one, puts
//! it in the span of the request and in the response, and keeps it in a task-local while the
//! request (or a run started by it) is handled. Clients that call another service read
//! [`current`] and send it on, so the backend, the executor manager and the executor all log the
//! same id for one run. The id doubles as the trace id: it is never replaced on the way.

use std::future::Future;

/// The header that carries the request id between services and back to clients.
pub const HEADER: &str = "x-request-id";

/// The longest request id accepted from a caller; longer ones are replaced.
const MAX_LEN: usize = 128;

tokio::task_local! {
    static CURRENT: String;
}

/// A fresh id (a UUID v4, as text).
pub fn generate() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A caller's id, if it is safe to log and to send on: 1 to 128 characters of letters, digits and
/// `-_.:`. Anything else (log injection, unbounded size) is replaced by a fresh id at the edge.
pub fn accept(value: &str) -> Option<String> {
    let ok = !value.is_empty()
        && value.len() <= MAX_LEN
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    ok.then(|| value.to_owned())
}

/// The request id of the work this task is doing, if any.
pub fn current() -> Option<String> {
    CURRENT.try_with(|id| id.clone()).ok()
}

/// Runs `fut` with `id` as the current request id.
pub async fn scope<F: Future>(id: String, fut: F) -> F::Output {
    CURRENT.scope(id, fut).await
}

/// Runs `fut` with `id` as the current request id when there is one.
pub async fn scope_opt<F: Future>(id: Option<String>, fut: F) -> F::Output {
    match id {
        Some(id) => CURRENT.scope(id, fut).await,
        None => fut.await,
    }
}

/// `tokio::spawn` that keeps the current request id in the spawned task (task-locals do not
/// cross `spawn` on their own).
pub fn spawn<F>(fut: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    tokio::spawn(scope_opt(current(), fut))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_ids_are_refused() {
        assert!(accept("abc-123_x.y:z").is_some());
        for bad in ["", "a b", "a\nb", "{\"x\":1}", &"a".repeat(129)] {
            assert!(accept(bad).is_none(), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn the_id_follows_scopes_and_spawns() {
        assert_eq!(current(), None);
        let seen = scope("r-1".into(), async {
            spawn(async { current() }).await.unwrap()
        })
        .await;
        assert_eq!(seen.as_deref(), Some("r-1"));
    }
}
