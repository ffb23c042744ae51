//! What a claimed run's agent is configured with besides its prompt: the capabilities snapshot
//! the backend resolved when the run was queued, turned into the `ExecuteRequest` fields that
//! make the executor stage it — skill files as short-lived presigned GET URLs (the executor holds
//! no S3 credentials), the `--mcp-config` document, slash commands, subagents, `CLAUDE.md`, and
//! the snapshot's digest (equal digests stage identical files: the executor keeps what it staged
//! and reuses the CLI it started ahead).
//!
//! MCP configs name the user's secrets as `${NAME}`: the backend resolved the values at the
//! claim (`ClaimedRun.secrets`, for this run only) and they are substituted here
//! ([`protocol::secrets::substitute`]); a name without a value fails the run, not retried. The
//! digest handed to the executor then also covers the resolved document, through an
//! HMAC-SHA256 under a key of this process ([`keyed_digest`]): a changed value restages the
//! MCP file (and replaces a CLI started ahead), and the digest, which travels and is logged like
//! any digest, tells nothing about a value to whoever lacks the key.
//!
//! The backend built the snapshot from its own tables; the manager still refuses (the run fails,
//! not retried) a skill owned by anyone but the run's user or the system, a key outside its
//! owner's skills prefix ([`objstore::keys::skills_prefix`], checked with
//! [`objstore::keys::within`]), and names or paths that are not plain, so a confused or tampered
//! claim can neither make it sign another user's object nor make the executor write outside the
//! CLI's configuration directory.

use std::collections::HashSet;
use std::sync::LazyLock;
use std::time::{Duration, SystemTime};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use objstore::keys;
use protocol::capabilities::{CapabilitySnapshot, ConfigDocument, valid_name};
use protocol::executor::SkillFile;
use protocol::internal::ClaimedRun;
use serde_json::{Map, Value, json};

use crate::export::Exporter;

/// How long the executor has to start each skill download: it stages them as soon as it accepts
/// the task, moments after the URLs are signed.
pub const SKILL_URL_EXPIRES: Duration = Duration::from_secs(600);

/// The longest skill file path the executor accepts (`{skill}/{path}`), in bytes.
const MAX_SKILL_PATH_BYTES: usize = 1024;

/// The longest digest the executor accepts.
const MAX_DIGEST_CHARS: usize = 128;

#[derive(Debug, thiserror::Error)]
pub enum CapabilityError {
    #[error("the run has skills but this manager has no S3 settings (S3_ENDPOINT, …)")]
    NoStorage,
    #[error("{kind} `{name}`: {reason}")]
    Refused {
        kind: &'static str,
        name: String,
        reason: String,
    },
    #[error("signing the URL of skill file `{path}` failed: {message}")]
    Presign { path: String, message: String },
}

/// The parts of an `ExecuteRequest` that stage the run's capabilities.
#[derive(Debug, Default)]
pub struct Capabilities {
    pub skills: Vec<SkillFile>,
    pub mcp_config: Option<Value>,
    pub slash_commands: Vec<ConfigDocument>,
    pub subagents: Vec<ConfigDocument>,
    pub instructions: Option<String>,
    pub digest: Option<String>,
}

fn refuse(kind: &'static str, name: &str, reason: impl Into<String>) -> CapabilityError {
    CapabilityError::Refused {
        kind,
        name: name.to_owned(),
        reason: reason.into(),
    }
}

/// A skill file's path inside its skill's folder: relative segments, none empty, `.` or `..`, no
/// `\` and no control characters.
fn plain_path(path: &str) -> bool {
    !path.is_empty()
        && !path.contains('\\')
        && !path.chars().any(char::is_control)
        && path
            .split('/')
            .all(|s| !s.is_empty() && s != "." && s != "..")
}

/// Checks every name of one kind: plain, and each once.
fn plain_unique_names<'a>(
    kind: &'static str,
    names: impl IntoIterator<Item = &'a str>,
) -> Result<(), CapabilityError> {
    let mut seen = HashSet::new();
    for name in names {
        if !valid_name(name) {
            return Err(refuse(
                kind,
                &name.escape_debug().to_string(),
                "the name is not plain (letters, digits, `-`, `_`, `.`)",
            ));
        }
        if !seen.insert(name) {
            return Err(refuse(kind, name, "the name is given twice"));
        }
    }
    Ok(())
}

/// Checks the run's snapshot, presigns its skill files with `exporter`'s bucket and builds the
/// MCP configuration. A run without a snapshot stages nothing (and needs no storage).
pub async fn prepare(
    exporter: Option<&Exporter>,
    run: &ClaimedRun,
) -> Result<Capabilities, CapabilityError> {
    let Some(snapshot) = &run.capabilities else {
        return Ok(Capabilities::default());
    };
    check(snapshot, run)?;
    let mut skills = Vec::new();
    if !snapshot.skills.is_empty() {
        let exporter = exporter.ok_or(CapabilityError::NoStorage)?;
        let now = SystemTime::now();
        for skill in &snapshot.skills {
            for file in &skill.files {
                let path = format!("{}/{}", skill.name, file.path);
                let url = exporter
                    .bucket()
                    .presign_get(&file.key, now, SKILL_URL_EXPIRES, None)
                    .await
                    .map_err(|e| CapabilityError::Presign {
                        path: path.clone(),
                        message: e.to_string().chars().take(300).collect(),
                    })?;
                skills.push(SkillFile {
                    path,
                    url,
                    size: file.size,
                });
            }
        }
    }
    let mut with_secrets = false;
    let mcp_config = if snapshot.mcp_servers.is_empty() {
        None
    } else {
        let mut servers = Map::new();
        for server in &snapshot.mcp_servers {
            let config = protocol::secrets::substitute(&server.config, &run.secrets)
                .map_err(|e| refuse("MCP server", &server.name, e.to_string()))?;
            with_secrets |= config != server.config;
            servers.insert(server.name.clone(), config);
        }
        Some(json!({ "mcpServers": servers }))
    };
    let digest = match &mcp_config {
        Some(resolved) if with_secrets => keyed_digest(&snapshot.digest, resolved),
        _ => snapshot.digest.clone(),
    };
    Ok(Capabilities {
        skills,
        mcp_config,
        slash_commands: snapshot.slash_commands.clone(),
        subagents: snapshot.subagents.clone(),
        instructions: snapshot.instructions.clone(),
        digest: Some(digest),
    })
}

/// The key of [`keyed_digest`]: random per process (warm executors live no longer than their
/// manager, so equal documents keep equal digests for as long as it matters).
static DIGEST_KEY: LazyLock<[u8; 32]> = LazyLock::new(rand::random);

/// The digest of a snapshot whose MCP configs hold resolved secrets: HMAC-SHA256 under
/// [`DIGEST_KEY`] of the snapshot's digest and the resolved document, in hex (64 characters,
/// as the executor accepts a digest). Never a bare hash: a short value could be guessed back
/// from one.
fn keyed_digest(snapshot_digest: &str, resolved: &Value) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(&*DIGEST_KEY).expect("HMAC takes a key of any length");
    mac.update(snapshot_digest.as_bytes());
    mac.update(&[0]);
    mac.update(&serde_json::to_vec(resolved).unwrap_or_default());
    hex::encode(mac.finalize().into_bytes())
}

/// Everything [`prepare`] refuses, before anything is signed.
fn check(snapshot: &CapabilitySnapshot, run: &ClaimedRun) -> Result<(), CapabilityError> {
    if snapshot.digest.is_empty()
        || snapshot.digest.len() > MAX_DIGEST_CHARS
        || !snapshot.digest.chars().all(|c| c.is_ascii_alphanumeric())
    {
        return Err(refuse(
            "capabilities",
            "digest",
            "the snapshot's digest is not 1 to 128 letters and digits",
        ));
    }
    plain_unique_names("skill", snapshot.skills.iter().map(|s| s.name.as_str()))?;
    for skill in &snapshot.skills {
        let refuse_skill = |reason: String| refuse("skill", &skill.name, reason);
        if skill.owner.is_some_and(|owner| owner != run.user_id) {
            return Err(refuse_skill(
                "it belongs to another user than the run's".into(),
            ));
        }
        let prefix = keys::skills_prefix(skill.owner);
        let mut paths = HashSet::new();
        for file in &skill.files {
            let shown = file.path.escape_debug().to_string();
            if !plain_path(&file.path)
                || skill.name.len() + 1 + file.path.len() > MAX_SKILL_PATH_BYTES
            {
                return Err(refuse_skill(format!(
                    "file `{shown}`: the path is not a plain relative path"
                )));
            }
            if !paths.insert(file.path.as_str()) {
                return Err(refuse_skill(format!("file `{shown}` is listed twice")));
            }
            if file.size < 0 {
                return Err(refuse_skill(format!("file `{shown}`: negative size")));
            }
            if !keys::within(&prefix, &file.key) {
                return Err(refuse_skill(format!(
                    "file `{shown}`: its object lies outside its owner's skills prefix"
                )));
            }
        }
    }
    plain_unique_names(
        "MCP server",
        snapshot.mcp_servers.iter().map(|s| s.name.as_str()),
    )?;
    if let Some(server) = snapshot.mcp_servers.iter().find(|s| !s.config.is_object()) {
        return Err(refuse(
            "MCP server",
            &server.name,
            "its configuration is not a JSON object",
        ));
    }
    plain_unique_names(
        "slash command",
        snapshot.slash_commands.iter().map(|d| d.name.as_str()),
    )?;
    plain_unique_names(
        "subagent",
        snapshot.subagents.iter().map(|d| d.name.as_str()),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::S3Settings;
    use protocol::capabilities::{SnapshotMcpServer, SnapshotSkill, SnapshotSkillFile};
    use uuid::Uuid;

    fn run(user: Uuid, snapshot: Option<CapabilitySnapshot>) -> ClaimedRun {
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
            attachments: Vec::new(),
            capabilities: snapshot,
            append_system_prompt: None,
            allowed_tools: Vec::new(),
            input_timeout_seconds: None,
            secrets: Default::default(),
            model_route: None,
            project_id: None,
            workspace_source: None,
            git: None,
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

    fn skill(owner: Option<Uuid>, name: &str, files: &[(&str, &str)]) -> SnapshotSkill {
        SnapshotSkill {
            id: Uuid::new_v4(),
            name: name.into(),
            version: "v1".into(),
            owner,
            files: files
                .iter()
                .map(|(path, key)| SnapshotSkillFile {
                    path: (*path).into(),
                    key: (*key).into(),
                    size: 5,
                })
                .collect(),
        }
    }

    fn snapshot(skills: Vec<SnapshotSkill>) -> CapabilitySnapshot {
        CapabilitySnapshot {
            digest: "abc123".into(),
            skills,
            ..Default::default()
        }
    }

    fn doc(name: &str) -> ConfigDocument {
        ConfigDocument {
            name: name.into(),
            content: format!("---\ndescription: {name}\n---\nbody"),
        }
    }

    #[tokio::test]
    async fn a_snapshot_becomes_presigned_skills_an_mcp_config_and_documents() {
        let user = Uuid::new_v4();
        let id = Uuid::new_v4();
        let own = keys::skill_object_key(Some(user), id, "v1", 0);
        let script = keys::skill_object_key(Some(user), id, "v1", 1);
        let system = keys::skill_object_key(None, Uuid::new_v4(), "v2", 0);
        let mut snap = snapshot(vec![
            skill(
                Some(user),
                "mine",
                &[("SKILL.md", &own), ("scripts/run.sh", &script)],
            ),
            skill(None, "shared", &[("SKILL.md", &system)]),
        ]);
        snap.mcp_servers = vec![
            SnapshotMcpServer {
                name: "echo".into(),
                config: json!({"command": "python3", "args": ["echo.py"]}),
            },
            SnapshotMcpServer {
                name: "web".into(),
                config: json!({"type": "http", "url": "https://mcp.example.com"}),
            },
        ];
        snap.slash_commands = vec![doc("shout")];
        snap.subagents = vec![doc("counter")];
        snap.instructions = Some("Be kind.".into());
        let e = exporter();
        let caps = prepare(Some(&e), &run(user, Some(snap))).await.unwrap();
        let paths: Vec<&str> = caps.skills.iter().map(|s| s.path.as_str()).collect();
        assert_eq!(
            paths,
            vec!["mine/SKILL.md", "mine/scripts/run.sh", "shared/SKILL.md"]
        );
        for file in &caps.skills {
            assert_eq!(file.size, 5);
            assert!(
                file.url.starts_with("http://127.0.0.1:9/b/"),
                "{}",
                file.url
            );
            assert!(file.url.contains("X-Amz-Signature="), "{}", file.url);
            assert!(file.url.contains("X-Amz-Expires=600"), "{}", file.url);
        }
        assert!(caps.skills[2].url.contains("/b/system/skills/"));
        assert_eq!(
            caps.mcp_config,
            Some(json!({"mcpServers": {
                "echo": {"command": "python3", "args": ["echo.py"]},
                "web": {"type": "http", "url": "https://mcp.example.com"},
            }}))
        );
        assert_eq!(caps.slash_commands, vec![doc("shout")]);
        assert_eq!(caps.subagents, vec![doc("counter")]);
        assert_eq!(caps.instructions.as_deref(), Some("Be kind."));
        assert_eq!(caps.digest.as_deref(), Some("abc123"));
    }

    #[tokio::test]
    async fn secrets_are_substituted_and_change_the_digest_never_showing_in_it() {
        use protocol::secrets::SecretValue;
        let user = Uuid::new_v4();
        let mut snap = snapshot(vec![]);
        snap.mcp_servers = vec![
            SnapshotMcpServer {
                name: "gh".into(),
                config: json!({"command": "gh-mcp", "args": ["--token=${GITHUB_TOKEN}"],
                               "env": {"GITHUB_TOKEN": "${GITHUB_TOKEN}", "MODE": "ro"}}),
            },
            SnapshotMcpServer {
                name: "web".into(),
                config: json!({"type": "http", "url": "https://mcp.example.com",
                               "headers": {"Authorization": "Bearer ${WEB_KEY}"}}),
            },
        ];
        let with = |values: &[(&str, &str)]| {
            let mut r = run(user, Some(snap.clone()));
            r.secrets = values
                .iter()
                .map(|(k, v)| ((*k).to_owned(), SecretValue::new(*v)))
                .collect();
            r
        };
        let caps = prepare(
            None,
            &with(&[("GITHUB_TOKEN", "ghp_one"), ("WEB_KEY", "wk")]),
        )
        .await
        .unwrap();
        assert_eq!(
            caps.mcp_config,
            Some(json!({"mcpServers": {
                "gh": {"command": "gh-mcp", "args": ["--token=ghp_one"],
                       "env": {"GITHUB_TOKEN": "ghp_one", "MODE": "ro"}},
                "web": {"type": "http", "url": "https://mcp.example.com",
                        "headers": {"Authorization": "Bearer wk"}},
            }}))
        );
        let digest = caps.digest.unwrap();
        assert_ne!(digest, "abc123");
        assert_eq!(digest.len(), 64);
        assert!(digest.chars().all(|c| c.is_ascii_hexdigit()));
        // Not a bare hash of the document (or of anything without the process's key).
        let bare = hex::encode(<Sha256 as sha2::Digest>::digest(
            serde_json::to_vec(caps.mcp_config.as_ref().unwrap()).unwrap(),
        ));
        assert_ne!(digest, bare);
        // Same values, same digest (a warm executor keeps its staging); another value, another.
        let again = prepare(
            None,
            &with(&[("GITHUB_TOKEN", "ghp_one"), ("WEB_KEY", "wk")]),
        )
        .await
        .unwrap();
        assert_eq!(again.digest.as_deref(), Some(digest.as_str()));
        let rotated = prepare(
            None,
            &with(&[("GITHUB_TOKEN", "ghp_two"), ("WEB_KEY", "wk")]),
        )
        .await
        .unwrap();
        assert_ne!(rotated.digest.as_deref(), Some(digest.as_str()));
        // A name without a value fails the run, naming the server and the secret.
        let err = prepare(None, &with(&[("GITHUB_TOKEN", "ghp_one")]))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("web") && err.contains("WEB_KEY"), "{err}");
        assert!(!err.contains("ghp_one"), "{err}");
        // The run's secrets never show in its Debug output.
        let shown = format!(
            "{:?}",
            with(&[("GITHUB_TOKEN", "ghp_one"), ("WEB_KEY", "wk")])
        );
        assert!(!shown.contains("ghp_one"), "{shown}");
    }

    #[tokio::test]
    async fn no_snapshot_or_no_skills_needs_no_storage() {
        let user = Uuid::new_v4();
        let caps = prepare(None, &run(user, None)).await.unwrap();
        assert!(caps.skills.is_empty() && caps.mcp_config.is_none() && caps.digest.is_none());
        let mut snap = snapshot(vec![]);
        snap.slash_commands = vec![doc("shout")];
        let caps = prepare(None, &run(user, Some(snap))).await.unwrap();
        assert_eq!(caps.slash_commands.len(), 1);
        assert!(caps.mcp_config.is_none());
        assert_eq!(caps.digest.as_deref(), Some("abc123"));
        let key = keys::skill_object_key(Some(user), Uuid::new_v4(), "v1", 0);
        let with_skill = snapshot(vec![skill(Some(user), "s", &[("SKILL.md", &key)])]);
        assert!(matches!(
            prepare(None, &run(user, Some(with_skill)))
                .await
                .unwrap_err(),
            CapabilityError::NoStorage
        ));
    }

    #[tokio::test]
    async fn foreign_owners_keys_outside_the_prefix_and_unplain_names_are_refused() {
        let user = Uuid::new_v4();
        let other = Uuid::new_v4();
        let id = Uuid::new_v4();
        let mine = keys::skill_object_key(Some(user), id, "v1", 0);
        let theirs = keys::skill_object_key(Some(other), id, "v1", 0);
        let system = keys::skill_object_key(None, id, "v1", 0);
        let e = exporter();
        let cases: Vec<(SnapshotSkill, &str)> = vec![
            // Another user's skill, even with keys under that user's prefix.
            (
                skill(Some(other), "s", &[("SKILL.md", &theirs)]),
                "another user",
            ),
            // The run's user's skill pointing at another user's objects, or the system's.
            (
                skill(Some(user), "s", &[("SKILL.md", &theirs)]),
                "outside its owner's skills prefix",
            ),
            (
                skill(Some(user), "s", &[("SKILL.md", &system)]),
                "outside its owner's skills prefix",
            ),
            // A system skill pointing into a user's prefix.
            (
                skill(None, "s", &[("SKILL.md", &mine)]),
                "outside its owner's skills prefix",
            ),
            (
                skill(
                    Some(user),
                    "s",
                    &[(
                        "SKILL.md",
                        &format!("users/{user}/skills/../../{other}/skills/x"),
                    )],
                ),
                "outside its owner's skills prefix",
            ),
            (
                skill(
                    Some(user),
                    "s",
                    &[("SKILL.md", "workspaces/s/runs/r/manifest.json")],
                ),
                "outside its owner's skills prefix",
            ),
            (
                skill(Some(user), "s", &[("../x", &mine)]),
                "plain relative path",
            ),
            (
                skill(Some(user), "s", &[("/etc/passwd", &mine)]),
                "plain relative path",
            ),
            (
                skill(Some(user), "s", &[("a//b", &mine)]),
                "plain relative path",
            ),
            (
                skill(Some(user), "s", &[("a\\b", &mine)]),
                "plain relative path",
            ),
            (
                skill(Some(user), "s", &[("", &mine)]),
                "plain relative path",
            ),
            (
                skill(Some(user), "../s", &[("SKILL.md", &mine)]),
                "not plain",
            ),
            (
                skill(Some(user), "a/b", &[("SKILL.md", &mine)]),
                "not plain",
            ),
            (
                skill(Some(user), "s", &[("SKILL.md", &mine), ("SKILL.md", &mine)]),
                "listed twice",
            ),
        ];
        for (s, expect) in cases {
            let shown = format!("{s:?}");
            let err = prepare(Some(&e), &run(user, Some(snapshot(vec![s]))))
                .await
                .unwrap_err();
            assert!(
                matches!(err, CapabilityError::Refused { kind: "skill", .. }),
                "{shown}: {err}"
            );
            assert!(err.to_string().contains(expect), "{shown}: {err}");
        }
        let twice = snapshot(vec![
            skill(Some(user), "s", &[("SKILL.md", &mine)]),
            skill(Some(user), "s", &[("SKILL.md", &mine)]),
        ]);
        assert!(prepare(Some(&e), &run(user, Some(twice))).await.is_err());

        let mut bad = snapshot(vec![]);
        bad.slash_commands = vec![doc("../../etc/x")];
        assert!(prepare(None, &run(user, Some(bad))).await.is_err());
        let mut bad = snapshot(vec![]);
        bad.subagents = vec![doc("a"), doc("a")];
        assert!(prepare(None, &run(user, Some(bad))).await.is_err());
        let mut bad = snapshot(vec![]);
        bad.mcp_servers = vec![SnapshotMcpServer {
            name: "x y".into(),
            config: json!({}),
        }];
        assert!(prepare(None, &run(user, Some(bad))).await.is_err());
        let mut bad = snapshot(vec![]);
        bad.mcp_servers = vec![SnapshotMcpServer {
            name: "x".into(),
            config: json!("python3"),
        }];
        assert!(prepare(None, &run(user, Some(bad))).await.is_err());
        for digest in ["", "../x", &"a".repeat(129)] {
            let mut bad = snapshot(vec![]);
            bad.digest = digest.into();
            assert!(
                prepare(None, &run(user, Some(bad))).await.is_err(),
                "{digest}"
            );
        }
    }
}
