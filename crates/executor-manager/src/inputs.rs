//! What a claimed run brings into its workspace besides the prompt: its attachments, handed to
//! the executor as short-lived presigned GET URLs (the executor holds no S3 credentials and
//! downloads them into `inputs/`), and the repository to clone.
//!
//! The backend took each attachment's key from its own table; the manager still refuses a key
//! outside the run's user's attachments prefix ([`objstore::keys::attachments_prefix`]) or,
//! for a run of a project's session, that project's files prefix
//! ([`objstore::keys::project_files_prefix`] of the run's user and `ClaimedRun.project_id`),
//! checked with [`objstore::keys::within`], so a confused or tampered claim cannot make it sign
//! another user's object (or another project's).

use std::time::{Duration, SystemTime};

use objstore::keys;
use protocol::executor::{GitSource, InputFile};
use protocol::internal::ClaimedRun;

use crate::export::Exporter;

/// How long the executor has to start each download: it fetches its inputs as soon as it
/// accepts the task, moments after the URLs are signed.
pub const INPUT_URL_EXPIRES: Duration = Duration::from_secs(600);

#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("the run has attachments but this manager has no S3 settings (S3_ENDPOINT, …)")]
    NoStorage,
    #[error("attachment `{name}`: {reason}")]
    Refused { name: String, reason: String },
    #[error("signing the URL of attachment `{name}` failed: {message}")]
    Presign { name: String, message: String },
    /// The claim carries no value for the repository's `token_secret` (the backend resolves it
    /// at the claim; a claim without it is not one this manager can run).
    #[error("the repository's token secret {0} came without a value")]
    NoToken(String),
}

/// The parts of an `ExecuteRequest` that stage the run's inputs.
#[derive(Debug, Default)]
pub struct Inputs {
    pub input_files: Vec<InputFile>,
    pub git: Option<GitSource>,
}

/// A plain file name, as the executor accepts it for `inputs/{name}`.
fn plain_name(name: &str) -> bool {
    !name.is_empty() && name != "." && !name.contains(['/', '\\', '\0']) && !name.contains("..")
}

/// Presigns the run's attachments with `exporter`'s bucket and passes its repository through,
/// with the value of its `token_secret` (from the claim's secrets) as the clone's token.
pub async fn prepare(exporter: Option<&Exporter>, run: &ClaimedRun) -> Result<Inputs, InputError> {
    let git = match &run.git {
        None => None,
        Some(g) => Some(GitSource {
            url: g.url.clone(),
            branch: g.branch.clone(),
            token: match &g.token_secret {
                None => None,
                Some(name) => Some(
                    run.secrets
                        .get(name)
                        .cloned()
                        .ok_or_else(|| InputError::NoToken(name.clone()))?,
                ),
            },
        }),
    };
    if run.attachments.is_empty() {
        return Ok(Inputs {
            input_files: Vec::new(),
            git,
        });
    }
    let exporter = exporter.ok_or(InputError::NoStorage)?;
    let prefix = keys::attachments_prefix(run.user_id);
    let project_prefix = run
        .project_id
        .map(|p| keys::project_files_prefix(run.user_id, p));
    let now = SystemTime::now();
    let mut input_files = Vec::with_capacity(run.attachments.len());
    for a in &run.attachments {
        let refuse = |reason: &str| InputError::Refused {
            name: a.name.clone(),
            reason: reason.to_owned(),
        };
        if !plain_name(&a.name) {
            return Err(refuse("the name is not a plain file name"));
        }
        if !keys::within(&prefix, &a.key)
            && !project_prefix
                .as_deref()
                .is_some_and(|p| keys::within(p, &a.key))
        {
            return Err(refuse(
                "its object lies outside the run's user's attachments and project files",
            ));
        }
        let url = exporter
            .bucket()
            .presign_get(&a.key, now, INPUT_URL_EXPIRES, None)
            .await
            .map_err(|e| InputError::Presign {
                name: a.name.clone(),
                message: e.to_string().chars().take(300).collect(),
            })?;
        input_files.push(InputFile {
            name: a.name.clone(),
            url,
        });
    }
    Ok(Inputs { input_files, git })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::S3Settings;
    use protocol::files::{GitRepoRequest, StagedAttachment};
    use uuid::Uuid;

    fn run(user: Uuid, attachments: Vec<StagedAttachment>) -> ClaimedRun {
        ClaimedRun {
            run_id: Uuid::new_v4(),
            session_id: Uuid::new_v4(),
            user_id: user,
            epoch: 1,
            attempt: 1,
            max_attempts: 3,
            prompt: "p".into(),
            model: None,
            permission_mode: Default::default(),
            agent_session_id: None,
            lease_expires_at: chrono::Utc::now(),
            kind: Default::default(),
            attachments,
            capabilities: None,
            append_system_prompt: None,
            allowed_tools: Vec::new(),
            input_timeout_seconds: None,
            secrets: Default::default(),
            model_route: None,
            project_id: None,
            workspace_source: None,
            git: Some(GitRepoRequest {
                url: "https://example.com/r.git".into(),
                branch: Some("main".into()),
                token_secret: None,
            }),
        }
    }

    fn exporter() -> Exporter {
        Exporter::new(
            &S3Settings {
                endpoint: "http://127.0.0.1:9".into(),
                public_endpoint: None,
                access_key: "ak".into(),
                secret_key: "sk".into(),
                bucket: "b".into(),
                region: "us-east-1".into(),
                force_path_style: true,
            },
            true,
        )
    }

    fn attachment(key: &str, name: &str) -> StagedAttachment {
        StagedAttachment {
            name: name.into(),
            key: key.into(),
            size: 1,
        }
    }

    #[tokio::test]
    async fn attachments_become_presigned_inputs_and_git_passes_through() {
        let user = Uuid::new_v4();
        let key = format!("users/{user}/attachments/{}/data.csv", Uuid::new_v4());
        let e = exporter();
        let inputs = prepare(Some(&e), &run(user, vec![attachment(&key, "data.csv")]))
            .await
            .unwrap();
        let git = inputs.git.unwrap();
        assert_eq!(git.url, "https://example.com/r.git");
        assert_eq!(git.branch.as_deref(), Some("main"));
        assert!(git.token.is_none());
        assert_eq!(inputs.input_files.len(), 1);
        let url = &inputs.input_files[0].url;
        assert!(url.starts_with("http://127.0.0.1:9/b/users/"), "{url}");
        assert!(url.contains("X-Amz-Signature="), "{url}");
        assert!(url.contains("X-Amz-Expires=600"), "{url}");
        assert!(!url.contains("sk"), "{url}");
    }

    #[tokio::test]
    async fn the_token_secret_becomes_the_clones_token() {
        use protocol::secrets::SecretValue;
        let mut r = run(Uuid::new_v4(), vec![]);
        r.git.as_mut().unwrap().token_secret = Some("GITHUB_TOKEN".into());
        let err = prepare(None, &r).await.unwrap_err();
        assert!(
            matches!(err, InputError::NoToken(ref n) if n == "GITHUB_TOKEN"),
            "{err}"
        );
        r.secrets
            .insert("GITHUB_TOKEN".into(), SecretValue::new("ghp_private"));
        let git = prepare(None, &r).await.unwrap().git.unwrap();
        assert_eq!(git.token.as_ref().map(|t| t.expose()), Some("ghp_private"));
        assert!(!git.url.contains("ghp_private"));
        assert!(!format!("{git:?}").contains("ghp_private"));
    }

    #[tokio::test]
    async fn foreign_keys_bad_names_and_missing_storage_are_refused() {
        let user = Uuid::new_v4();
        let other = Uuid::new_v4();
        let e = exporter();
        for a in [
            attachment(&format!("users/{other}/attachments/x/a.txt"), "a.txt"),
            attachment(&format!("users/{user}/attachments/../../{other}/a"), "a"),
            attachment("workspaces/s/runs/r/manifest.json", "m.json"),
            attachment(&format!("users/{user}/attachments/x/a"), "../a"),
            attachment(&format!("users/{user}/attachments//a"), "a"),
            attachment(&format!("/users/{user}/attachments/x/a"), "a"),
            attachment(&format!("users/{user}/attachments/"), "a"),
        ] {
            let err = prepare(Some(&e), &run(user, vec![a.clone()]))
                .await
                .unwrap_err();
            assert!(matches!(err, InputError::Refused { .. }), "{a:?}: {err}");
        }
        // Project files: only inside the run's own project's prefix.
        let project = Uuid::new_v4();
        let in_project = attachment(
            &format!("users/{user}/projects/{project}/files/x/p.txt"),
            "p.txt",
        );
        let mut of_project = run(user, vec![in_project.clone()]);
        assert!(matches!(
            prepare(Some(&e), &of_project).await.unwrap_err(),
            InputError::Refused { .. }
        ));
        of_project.project_id = Some(project);
        assert_eq!(
            prepare(Some(&e), &of_project)
                .await
                .unwrap()
                .input_files
                .len(),
            1
        );
        for key in [
            format!("users/{user}/projects/{}/files/x/p.txt", Uuid::new_v4()),
            format!("users/{other}/projects/{project}/files/x/p.txt"),
            format!(
                "users/{user}/projects/{project}/files/../../{}/files/x",
                Uuid::new_v4()
            ),
            format!("users/{user}/projects/{project}/secrets"),
        ] {
            of_project.attachments = vec![attachment(&key, "p.txt")];
            let err = prepare(Some(&e), &of_project).await.unwrap_err();
            assert!(matches!(err, InputError::Refused { .. }), "{key}: {err}");
        }
        let ok = attachment(&format!("users/{user}/attachments/x/a"), "a");
        assert!(matches!(
            prepare(None, &run(user, vec![ok])).await.unwrap_err(),
            InputError::NoStorage
        ));
        // No attachments: no storage needed.
        assert!(
            prepare(None, &run(user, vec![]))
                .await
                .unwrap()
                .input_files
                .is_empty()
        );
    }
}
