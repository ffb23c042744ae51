//! The repository a task may ask to clone into a new session's workspace (`git: {url, branch,
//! token_secret}`).
//!
//! Only `https://` URLs without credentials (`http://` too with `GIT_ALLOW_HTTP=true`, for tests
//! and private networks): the executor clones from inside the sandbox, and other schemes
//! (`file://`, `ssh://`, `ext::`) would let a task read the worker's files or run commands
//! through git's transports. A token in the URL would be stored and shown back, so it is refused
//! too: a private repository names the secret holding its token (`token_secret`), which reaches
//! only the run's executor, through `GIT_ASKPASS`. Answers 400 `invalid_git` otherwise.

use protocol::ErrorCode;
use protocol::files::GitRepoRequest;

use crate::error::{ApiError, ApiResult};

const MAX_URL: usize = 2048;
const MAX_BRANCH: usize = 255;

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::bad_request(ErrorCode::InvalidGit, message)
}

/// Checks a task's `git`; `follow_up` is true when the task names an existing session (whose
/// workspace already exists, so there is nothing to clone into); `allow_http` is
/// `GIT_ALLOW_HTTP`.
pub fn validate(git: Option<&GitRepoRequest>, follow_up: bool, allow_http: bool) -> ApiResult<()> {
    let Some(git) = git else {
        return Ok(());
    };
    if follow_up {
        return Err(invalid(
            "git is only accepted for a new session (leave out session_id)",
        ));
    }
    if git.url.len() > MAX_URL || git.url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(invalid(format!(
            "git.url must be at most {MAX_URL} characters without spaces or control characters"
        )));
    }
    let url =
        reqwest::Url::parse(&git.url).map_err(|e| invalid(format!("git.url is not a URL: {e}")))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_http => {}
        "http" => {
            return Err(invalid(
                "git.url must be an https:// URL (http:// is accepted only where the operator set GIT_ALLOW_HTTP=true)",
            ));
        }
        _ => return Err(invalid("git.url must be an https:// URL")),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("git.url must name a host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("git.url must not carry credentials"));
    }
    if let Some(name) = &git.token_secret
        && !protocol::secrets::is_valid_name(name)
    {
        return Err(invalid(
            "git.token_secret must be the name of one of your secrets (A-Z, 0-9 and _, not starting with a digit)",
        ));
    }
    if let Some(branch) = &git.branch
        && !valid_branch(branch)
    {
        return Err(invalid(
            "git.branch must be a branch name (no spaces, `..`, `~^:?*[\\`, leading `-` or `/`)",
        ));
    }
    Ok(())
}

/// A conservative subset of `git check-ref-format --branch`.
fn valid_branch(b: &str) -> bool {
    !b.is_empty()
        && b.len() <= MAX_BRANCH
        && !b.starts_with('-')
        && !b.starts_with('/')
        && !b.ends_with('/')
        && !b.ends_with('.')
        && !b.ends_with(".lock")
        && !b.contains("..")
        && !b.contains("//")
        && !b.contains("@{")
        && b != "@"
        && !b
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || "~^:?*[\\".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn git(url: &str, branch: Option<&str>) -> GitRepoRequest {
        GitRepoRequest {
            url: url.into(),
            branch: branch.map(Into::into),
            token_secret: None,
        }
    }

    #[test]
    fn https_urls_and_branch_names_only() {
        assert!(validate(None, true, false).is_ok());
        assert!(validate(Some(&git("https://github.com/a/b.git", None)), false, false).is_ok());
        assert!(
            validate(
                Some(&git("https://example.com/a", Some("feature/x-1"))),
                false,
                false
            )
            .is_ok()
        );
        for url in [
            "http://github.com/a/b",
            "file:///etc",
            "ssh://git@github.com/a/b",
            "git@github.com:a/b.git",
            "ext::sh -c id",
            "https://user:tok@github.com/a/b",
            "https://tok@github.com/a/b",
            "https://",
            "https://github.com/a b",
            "",
        ] {
            let err = validate(Some(&git(url, None)), false, false).unwrap_err();
            assert!(
                matches!(
                    err,
                    ApiError::BadRequest {
                        code: ErrorCode::InvalidGit,
                        ..
                    }
                ),
                "{url}"
            );
        }
        for branch in [
            "", "-x", "a..b", "a b", "x.lock", "a:b", "/a", "a/", "@", "a@{1}",
        ] {
            assert!(
                validate(Some(&git("https://h/r", Some(branch))), false, false).is_err(),
                "{branch}"
            );
        }
        assert!(validate(Some(&git("https://h/r", None)), true, false).is_err());
    }

    #[test]
    fn http_only_when_allowed_and_token_secrets_by_name() {
        let http = git("http://127.0.0.1:8080/r.git", None);
        assert!(validate(Some(&http), false, false).is_err());
        assert!(validate(Some(&http), false, true).is_ok());
        // Allowing http allows nothing else.
        for url in ["file:///etc", "ssh://h/r", "http://user:tok@h/r"] {
            assert!(
                validate(Some(&git(url, None)), false, true).is_err(),
                "{url}"
            );
        }
        let mut private = git("https://github.com/a/b.git", None);
        private.token_secret = Some("GITHUB_TOKEN".into());
        assert!(validate(Some(&private), false, false).is_ok());
        for bad in ["", "github_token", "1X", "A-B", "${GITHUB_TOKEN}"] {
            private.token_secret = Some(bad.into());
            assert!(validate(Some(&private), false, false).is_err(), "{bad}");
        }
    }
}
