//! What the run's agent is configured with besides its prompt: the capabilities snapshot staged
//! into the CLI's configuration directory (`CLAUDE_CONFIG_DIR`, the workspace's `.claude_data`).
//!
//! | request field | staged as |
//! |---|---|
//! | `skills` (presigned GETs) | `skills/{skill}/{path}` |
//! | `slash_commands` | `commands/{name}.md` |
//! | `subagents` | `agents/{name}.md` |
//! | `instructions` | `CLAUDE.md` (removed when absent) |
//! | `mcp_config` | `executor/mcp-{mac}.json` (mode 0600, in a 0700 directory), passed as `--mcp-config` |
//!
//! `skills/`, `commands/` and `agents/` hold exactly the run's items: each is built complete in
//! a fresh directory under `executor/` and then swapped in for the previous one, so what an
//! earlier run staged (or the agent put there) is gone, and a failed download leaves no half
//! directory behind. Skill files are fetched with at most [`FETCH_CONCURRENCY`] requests at a
//! time, each through a temporary file and checked against its announced size; errors name the
//! file, never its URL (a presigned URL is a credential). A file starting with `#!` is made
//! executable (the snapshot carries no modes), every other one is `0644`.
//!
//! **Restaging is skipped** when the request's `capabilities_digest` equals the digest staged
//! last by this executor and the staged files are still exactly as that staging left them (same
//! names, sizes and modification times): a follow-up with unchanged capabilities costs a walk of
//! a few directories. The MCP configuration's path depends only on its content, so a CLI started
//! ahead for the session's next run ([`crate::agent::prestart`]) has the same command line as the
//! run that takes it; [`Staged::key`] is the other half of that match.
//!
//! The MCP configuration may hold the user's secrets (substituted by the manager): it is written
//! only to its 0600 file, never logged, and its file name (which shows on the CLI's command
//! line) is an HMAC of the content under a key of this process, not a bare hash a short secret
//! could be guessed back from.

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use futures::StreamExt;
use protocol::capabilities::valid_name;
use protocol::executor::{ConfigDocument, ExecuteRequest, SkillFile};
use sha2::Sha256;
use tokio::io::AsyncWriteExt;
use tracing::{debug, info, instrument};

/// Skill files fetched at the same time.
pub const FETCH_CONCURRENCY: usize = 16;

/// The most skill files a run may stage.
pub const MAX_SKILL_FILES: usize = 10_000;

/// The most bytes of skill files a run may stage, all together.
pub const MAX_SKILLS_BYTES: u64 = 1024 * 1024 * 1024;

/// The most slash commands, and the most subagents, a run may stage.
pub const MAX_DOCUMENTS: usize = 1_000;

/// The largest slash command, subagent, `CLAUDE.md` or MCP configuration, in bytes.
pub const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;

/// The longest skill file path (`{skill}/{path}`), in bytes.
pub const MAX_SKILL_PATH_BYTES: usize = 1024;

/// The longest capabilities digest.
pub const MAX_DIGEST_CHARS: usize = 128;

/// The staged directories, relative to the configuration directory.
const SKILLS: &str = "skills";
const COMMANDS: &str = "commands";
const AGENTS: &str = "agents";
const INSTRUCTIONS: &str = "CLAUDE.md";
/// The executor's own files in the configuration directory (MCP configurations, staging).
const EXECUTOR_DIR: &str = "executor";
const STAGE_PREFIX: &str = "stage-";
const TRASH_PREFIX: &str = "trash-";
const MCP_PREFIX: &str = "mcp-";

/// Why staging failed. `Display` is meant for the user (it ends the run as `failed`).
#[derive(Debug, thiserror::Error)]
pub enum StagingError {
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("could not fetch the skill file `{path}`: {reason}")]
    Fetch { path: String, reason: String },
    #[error("{0}")]
    Invalid(String),
}

impl StagingError {
    fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let context = context.into();
        move |source| StagingError::Io { context, source }
    }
}

/// What a run's CLI is configured with, as its invocation needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Staged {
    /// What the configuration directory holds: the request's digest, `""` for nothing at all
    /// (no digest, nothing to stage), `None` for items without a digest (unknown: a CLI started
    /// ahead never matches it).
    pub key: Option<String>,
    /// `--mcp-config`, when the run has MCP servers.
    pub mcp_config: Option<PathBuf>,
}

impl Staged {
    /// Nothing staged: no skills, commands, subagents, instructions or MCP servers.
    pub fn nothing() -> Self {
        Self {
            key: Some(String::new()),
            mcp_config: None,
        }
    }
}

/// Size and modification time (ns since the epoch; `-1` for a directory, `-2` for anything that
/// is neither file nor directory) of each staged path, relative to the configuration directory.
type Fingerprint = BTreeMap<String, (u64, i128)>;

/// What the last staging left in the configuration directory; kept in the executor's memory
/// (the agent can write the directory, not this).
#[derive(Debug, Clone, PartialEq)]
pub struct StagedRecord {
    key: Option<String>,
    mcp_config: Option<PathBuf>,
    files: Fingerprint,
}

/// The outcome of [`stage`].
#[derive(Debug)]
pub struct StageOutcome {
    pub staged: Staged,
    /// Whether files were written (`false`: the digest and the files matched the last staging).
    pub restaged: bool,
    /// What to pass to the next [`stage`].
    pub record: StagedRecord,
}

/// The identity of what `req` stages (see [`Staged::key`]): `""` whenever it stages nothing,
/// whatever its digest (so a CLI started ahead with nothing staged, as a pooled executor's is,
/// matches a run whose snapshot is empty), else its digest.
pub fn staging_key(req: &ExecuteRequest) -> Option<String> {
    if stages_nothing(req) {
        return Some(String::new());
    }
    req.capabilities_digest.clone()
}

fn stages_nothing(req: &ExecuteRequest) -> bool {
    req.skills.is_empty()
        && req.slash_commands.is_empty()
        && req.subagents.is_empty()
        && req.instructions.is_none()
        && req.mcp_config.is_none()
}

/// The key of the MCP file's name: random per process (a staging lives no longer than it).
static MCP_NAME_KEY: std::sync::LazyLock<[u8; 32]> = std::sync::LazyLock::new(rand::random);

/// The MCP configuration as written: its bytes and its file name (`mcp-{mac}.json`, an
/// HMAC-SHA256 of the bytes under [`MCP_NAME_KEY`]: the same configuration always has the same
/// path in this process, and the name says nothing about a secret in it).
fn mcp_file(config: &serde_json::Value) -> (Vec<u8>, String) {
    use hmac::{Hmac, Mac};
    let bytes = serde_json::to_vec(config).unwrap_or_default();
    let mut mac =
        Hmac::<Sha256>::new_from_slice(&*MCP_NAME_KEY).expect("HMAC takes a key of any length");
    mac.update(&bytes);
    let hash = hex::encode(mac.finalize().into_bytes());
    (bytes, format!("{MCP_PREFIX}{}.json", &hash[..32]))
}

/// Checks the request's capability fields (called when a task is accepted).
pub fn validate(req: &ExecuteRequest) -> Result<(), String> {
    if let Some(digest) = &req.capabilities_digest
        && (digest.is_empty()
            || digest.len() > MAX_DIGEST_CHARS
            || !digest.chars().all(|c| c.is_ascii_alphanumeric()))
    {
        return Err(format!(
            "capabilities_digest must be 1 to {MAX_DIGEST_CHARS} letters and digits"
        ));
    }
    if req.skills.len() > MAX_SKILL_FILES {
        return Err(format!("at most {MAX_SKILL_FILES} skill files"));
    }
    let mut paths = HashSet::new();
    let mut total: u64 = 0;
    for file in &req.skills {
        if !valid_skill_path(&file.path) {
            return Err(format!(
                "skill file path `{}` must be `{{skill}}/{{path}}`: a plain skill name, then \
                 relative segments without `.`, `..`, `\\` or control characters",
                file.path.escape_debug()
            ));
        }
        if !paths.insert(file.path.as_str()) {
            return Err(format!("skill file `{}` is named twice", file.path));
        }
        let size = u64::try_from(file.size)
            .map_err(|_| format!("skill file `{}`: size must not be negative", file.path))?;
        total = total.saturating_add(size);
        match reqwest::Url::parse(&file.url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => {}
            _ => {
                return Err(format!(
                    "skill file `{}`: url must be an http:// or https:// URL",
                    file.path
                ));
            }
        }
    }
    if total > MAX_SKILLS_BYTES {
        return Err(format!(
            "skill files must not exceed {MAX_SKILLS_BYTES} bytes in all"
        ));
    }
    for (kind, docs) in [
        ("slash command", &req.slash_commands),
        ("subagent", &req.subagents),
    ] {
        if docs.len() > MAX_DOCUMENTS {
            return Err(format!("at most {MAX_DOCUMENTS} {kind}s"));
        }
        let mut names = HashSet::new();
        for doc in docs {
            if !valid_name(&doc.name) {
                return Err(format!(
                    "{kind} name `{}` must be plain (letters, digits, `-`, `_`, `.`)",
                    doc.name.escape_debug()
                ));
            }
            if !names.insert(doc.name.as_str()) {
                return Err(format!("{kind} `{}` is named twice", doc.name));
            }
            check_text(&format!("{kind} `{}`", doc.name), &doc.content)?;
        }
    }
    if let Some(text) = &req.instructions {
        check_text("instructions", text)?;
    }
    if let Some(config) = &req.mcp_config {
        if !config
            .get("mcpServers")
            .is_some_and(serde_json::Value::is_object)
        {
            return Err("mcp_config must be an object with an `mcpServers` object".into());
        }
        if mcp_file(config).0.len() > MAX_DOCUMENT_BYTES {
            return Err(format!(
                "mcp_config must not exceed {MAX_DOCUMENT_BYTES} bytes"
            ));
        }
    }
    Ok(())
}

fn check_text(what: &str, text: &str) -> Result<(), String> {
    if text.contains('\0') {
        return Err(format!("{what} must not contain NUL characters"));
    }
    if text.len() > MAX_DOCUMENT_BYTES {
        return Err(format!("{what} must not exceed {MAX_DOCUMENT_BYTES} bytes"));
    }
    Ok(())
}

/// A skill file's path: `{skill}/{path}` with a plain skill name and at least one more segment,
/// every segment non-empty and neither `.` nor `..`, no `\`, no control characters.
pub fn valid_skill_path(path: &str) -> bool {
    let mut segments = path.split('/');
    let Some(skill) = segments.next() else {
        return false;
    };
    let rest: Vec<&str> = segments.collect();
    path.len() <= MAX_SKILL_PATH_BYTES
        && valid_name(skill)
        && !rest.is_empty()
        && !path.contains('\\')
        && !path.chars().any(char::is_control)
        && rest
            .iter()
            .all(|s| !s.is_empty() && *s != "." && *s != "..")
}

/// Stages `req`'s capabilities into `data_dir` (the CLI's configuration directory), or keeps
/// what `last` staged when the digest and the files still match.
#[instrument(skip_all, fields(skills = req.skills.len()))]
pub async fn stage(
    data_dir: &Path,
    http: &reqwest::Client,
    req: &ExecuteRequest,
    last: Option<StagedRecord>,
) -> Result<StageOutcome, StagingError> {
    let key = staging_key(req);
    let mcp = req.mcp_config.as_ref().map(mcp_file);
    let exec_dir = data_dir.join(EXECUTOR_DIR);
    let mcp_path = mcp.as_ref().map(|(_, name)| exec_dir.join(name));
    let staged = Staged {
        key: key.clone(),
        mcp_config: mcp_path.clone(),
    };
    real_directory(data_dir, "the CLI's configuration directory")?;

    if let Some(last) = last
        && key.is_some()
        && last.key == key
        && last.mcp_config == mcp_path
    {
        let now = fingerprint(data_dir.to_owned()).await?;
        if now == last.files {
            debug!("capabilities unchanged since the last run; kept as staged");
            return Ok(StageOutcome {
                staged,
                restaged: false,
                record: last,
            });
        }
        info!("staged capabilities were changed since the last run; staging them again");
    }

    let started = std::time::Instant::now();
    let stage_dir = {
        let (exec_dir, keep) = (exec_dir.clone(), mcp_path.clone());
        blocking(move || {
            make_private_dir(&exec_dir)?;
            remove_leftovers(&exec_dir, keep.as_deref())?;
            tempfile::Builder::new()
                .prefix(STAGE_PREFIX)
                .tempdir_in(&exec_dir)
                .map_err(StagingError::io("could not create a staging directory"))
        })
        .await?
    };
    if !req.skills.is_empty() {
        fetch_skills(http, &stage_dir.path().join(SKILLS), &req.skills).await?;
    }
    let (commands, subagents) = (req.slash_commands.clone(), req.subagents.clone());
    let instructions = req.instructions.clone();
    let mcp_file = mcp
        .zip(mcp_path.clone())
        .map(|((bytes, _), path)| (bytes, path));
    let (data, exec) = (data_dir.to_owned(), exec_dir.clone());
    blocking(move || {
        let fresh = stage_dir.path();
        write_documents(&fresh.join(COMMANDS), &commands)?;
        write_documents(&fresh.join(AGENTS), &subagents)?;
        // What the last staging left moves aside at once and is deleted off the run's path
        // (deleting a megabyte of files costs tens of milliseconds on a slow disk).
        let trash = tempfile::Builder::new()
            .prefix(TRASH_PREFIX)
            .tempdir_in(&exec)
            .map_err(StagingError::io("could not create a staging directory"))?
            .keep();
        let swapped = [SKILLS, COMMANDS, AGENTS]
            .into_iter()
            .try_for_each(|dir| swap_in(&fresh.join(dir), &data.join(dir), &trash.join(dir)));
        remove_in_background(trash);
        swapped?;
        let claude_md = data.join(INSTRUCTIONS);
        match &instructions {
            Some(text) => write_file(&claude_md, text.as_bytes(), 0o644)?,
            None => remove_any(&claude_md)?,
        }
        if let Some((bytes, path)) = &mcp_file {
            // It may hold credentials: only the agent's user reads it.
            write_file(path, bytes, 0o600)?;
        }
        Ok(())
    })
    .await?;

    let files = fingerprint(data_dir.to_owned()).await?;
    info!(
        skill_files = req.skills.len(),
        commands = req.slash_commands.len(),
        subagents = req.subagents.len(),
        instructions = req.instructions.is_some(),
        mcp = mcp_path.is_some(),
        ms = started.elapsed().as_millis() as u64,
        "capabilities staged"
    );
    Ok(StageOutcome {
        staged,
        restaged: true,
        record: StagedRecord {
            key,
            mcp_config: mcp_path,
            files,
        },
    })
}

/// Runs blocking file work off the runtime's threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StagingError> + Send + 'static,
) -> Result<T, StagingError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| StagingError::Io {
            context: "staging stopped".into(),
            source: std::io::Error::other(e.to_string()),
        })?
}

/// Deletes `path` on a blocking thread nobody waits for (a failure is logged).
fn remove_in_background(path: PathBuf) {
    tokio::task::spawn_blocking(move || {
        if let Err(e) = remove_any(&path) {
            tracing::warn!(error = %e, "could not delete an earlier staging");
        }
    });
}

/// Fails unless `path` is a directory itself (not a link to one): the executor writes below it.
fn real_directory(path: &Path, what: &str) -> Result<(), StagingError> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(StagingError::Invalid(format!(
            "{what} {} is not a directory (a link or a file was put there)",
            path.display()
        ))),
        Err(source) => Err(StagingError::Io {
            context: format!("could not read {}", path.display()),
            source,
        }),
    }
}

/// Creates `dir` (mode 0700) when missing; anything else in its place is removed first.
fn make_private_dir(dir: &Path) -> Result<(), StagingError> {
    match std::fs::symlink_metadata(dir) {
        Ok(m) if m.is_dir() => return Ok(()),
        Ok(_) => remove_any(dir)?,
        Err(_) => {}
    }
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(dir)
        .map_err(StagingError::io(format!(
            "could not create {}",
            dir.display()
        )))
}

/// Removes earlier stagings' leftovers from `executor/`: MCP configurations other than `keep`
/// at once, and (in the background) staging directories of an executor that stopped mid-way and
/// earlier stagings not deleted yet.
fn remove_leftovers(exec_dir: &Path, keep: Option<&Path>) -> Result<(), StagingError> {
    let entries =
        std::fs::read_dir(exec_dir).map_err(StagingError::io("could not read executor/"))?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let path = entry.path();
        if name.starts_with(STAGE_PREFIX) || name.starts_with(TRASH_PREFIX) {
            remove_in_background(path);
        } else if name.starts_with(MCP_PREFIX) && Some(path.as_path()) != keep {
            remove_any(&path)?;
        }
    }
    Ok(())
}

/// Removes whatever is at `path` (a directory with its contents; a link itself, never what it
/// points to); nothing there is fine.
fn remove_any(path: &Path) -> Result<(), StagingError> {
    let result = match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(e) => Err(e),
    };
    // Gone already (or while being removed: an earlier staging's background deletion) is fine.
    let result = match result {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other,
    };
    result.map_err(StagingError::io(format!(
        "could not remove {}",
        path.display()
    )))
}

/// Puts `fresh` (when it exists) where `target` was; the old one (whatever it is: a link is
/// moved, never followed) goes to `aside`.
fn swap_in(fresh: &Path, target: &Path, aside: &Path) -> Result<(), StagingError> {
    if std::fs::symlink_metadata(target).is_ok() {
        std::fs::rename(target, aside).map_err(StagingError::io(format!(
            "could not move {} aside",
            target.display()
        )))?;
    }
    if fresh.exists() {
        std::fs::rename(fresh, target).map_err(StagingError::io(format!(
            "could not move the staged {} into place",
            target.display()
        )))?;
    }
    Ok(())
}

/// Writes `bytes` to `path` through a temporary file in the same directory, with `mode`.
fn write_file(path: &Path, bytes: &[u8], mode: u32) -> Result<(), StagingError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let context = || format!("could not write {}", path.display());
    let mut tmp = tempfile::Builder::new()
        .prefix(".staging-")
        .tempfile_in(dir)
        .map_err(|source| StagingError::Io {
            context: context(),
            source,
        })?;
    // No fsync: a staging lost in a crash is staged again (the record lives in memory).
    let written = tmp.write_all(bytes).and_then(|()| {
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(mode))
    });
    written.map_err(|source| StagingError::Io {
        context: context(),
        source,
    })?;
    tmp.persist(path).map_err(|e| StagingError::Io {
        context: context(),
        source: e.error,
    })?;
    Ok(())
}

/// `dir/{name}.md` for each document (`dir` is created only when there is one).
fn write_documents(dir: &Path, docs: &[ConfigDocument]) -> Result<(), StagingError> {
    if docs.is_empty() {
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(StagingError::io(format!(
        "could not create {}",
        dir.display()
    )))?;
    for doc in docs {
        if !valid_name(&doc.name) {
            return Err(StagingError::Invalid(format!(
                "`{}` is not a plain name",
                doc.name.escape_debug()
            )));
        }
        write_file(
            &dir.join(format!("{}.md", doc.name)),
            doc.content.as_bytes(),
            0o644,
        )?;
    }
    Ok(())
}

/// Fetches every skill file into `root`, [`FETCH_CONCURRENCY`] at a time; the first failure
/// stops the others.
async fn fetch_skills(
    http: &reqwest::Client,
    root: &Path,
    files: &[SkillFile],
) -> Result<(), StagingError> {
    // Futures collected first, no closure in the stream's type: the run's future stays `Send`.
    let fetches: Vec<_> = files
        .iter()
        .map(|file| fetch_skill_file(http, root, file))
        .collect();
    let mut fetched = futures::stream::iter(fetches).buffer_unordered(FETCH_CONCURRENCY);
    let mut bytes = 0u64;
    while let Some(result) = fetched.next().await {
        bytes += result?;
    }
    debug!(files = files.len(), bytes, "skill files fetched");
    Ok(())
}

/// Fetches one skill file to `root/{path}` through a temporary file next to it; returns its size.
async fn fetch_skill_file(
    http: &reqwest::Client,
    root: &Path,
    file: &SkillFile,
) -> Result<u64, StagingError> {
    let fail = |reason: String| StagingError::Fetch {
        path: file.path.clone(),
        reason,
    };
    if !valid_skill_path(&file.path) {
        return Err(fail("the path is not a plain relative path".into()));
    }
    let expected = u64::try_from(file.size).map_err(|_| fail("negative size".into()))?;
    let target = root.join(&file.path);
    let dir = target.parent().unwrap_or(root).to_owned();
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(|e| fail(format!("could not create its directory: {e}")))?;
    // The URL is presigned: it is a credential, so neither it nor an error quoting it is shown.
    let response = http
        .get(&file.url)
        .send()
        .await
        .map_err(|e| fail(format!("request failed ({})", error_kind(&e))))?;
    if !response.status().is_success() {
        return Err(fail(format!("HTTP {}", response.status().as_u16())));
    }
    if let Some(len) = response.content_length()
        && len != expected
    {
        return Err(fail(format!(
            "the server announced {len} bytes, the snapshot {expected}"
        )));
    }
    let tmp = tempfile::Builder::new()
        .prefix(".fetch-")
        .tempfile_in(&dir)
        .map_err(|e| fail(format!("could not create a temporary file: {e}")))?;
    let (std_file, tmp_path) = tmp.into_parts();
    let mut out = tokio::fs::File::from_std(std_file);
    let mut body = response.bytes_stream();
    let mut size = 0u64;
    let mut executable = false;
    while let Some(chunk) = body.next().await {
        let chunk =
            chunk.map_err(|e| fail(format!("download interrupted ({})", error_kind(&e))))?;
        if size == 0 {
            executable = chunk.starts_with(b"#!");
        }
        size += chunk.len() as u64;
        if size > expected {
            return Err(fail(format!("larger than the snapshot's {expected} bytes")));
        }
        out.write_all(&chunk)
            .await
            .map_err(|e| fail(e.to_string()))?;
    }
    if size != expected {
        return Err(fail(format!(
            "{size} bytes arrived, the snapshot says {expected}"
        )));
    }
    out.flush().await.map_err(|e| fail(e.to_string()))?;
    let mode = if executable { 0o755 } else { 0o644 };
    out.set_permissions(std::fs::Permissions::from_mode(mode))
        .await
        .map_err(|e| fail(e.to_string()))?;
    drop(out);
    tmp_path
        .persist(&target)
        .map_err(|e| fail(e.error.to_string()))?;
    Ok(size)
}

fn error_kind(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "body error"
    } else {
        "transport error"
    }
}

/// The staged paths as they are now (see [`Fingerprint`]): everything under `skills/`,
/// `commands/` and `agents/`, `CLAUDE.md`, and the MCP configurations in `executor/`.
async fn fingerprint(data_dir: PathBuf) -> Result<Fingerprint, StagingError> {
    tokio::task::spawn_blocking(move || {
        let mut out = Fingerprint::new();
        for top in [SKILLS, COMMANDS, AGENTS, INSTRUCTIONS] {
            walk(&data_dir, top, &mut out)?;
        }
        if let Ok(entries) = std::fs::read_dir(data_dir.join(EXECUTOR_DIR)) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with(MCP_PREFIX) {
                    walk(&data_dir, &format!("{EXECUTOR_DIR}/{name}"), &mut out)?;
                }
            }
        }
        Ok(out)
    })
    .await
    .map_err(|e| StagingError::Io {
        context: "could not read the staged files".into(),
        source: std::io::Error::other(e.to_string()),
    })?
}

fn walk(base: &Path, rel: &str, out: &mut Fingerprint) -> Result<(), StagingError> {
    let path = base.join(rel);
    let meta = match std::fs::symlink_metadata(&path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(StagingError::Io {
                context: format!("could not read {}", path.display()),
                source,
            });
        }
    };
    if meta.is_dir() {
        out.insert(rel.to_owned(), (0, -1));
        let entries = std::fs::read_dir(&path).map_err(StagingError::io(format!(
            "could not read {}",
            path.display()
        )))?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            walk(base, &format!("{rel}/{name}"), out)?;
        }
    } else if meta.is_file() {
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos() as i128);
        out.insert(rel.to_owned(), (meta.len(), mtime));
    } else {
        out.insert(rel.to_owned(), (meta.len(), -2));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(extra: serde_json::Value) -> ExecuteRequest {
        let mut base = json!({
            "run_id": uuid::Uuid::new_v4(),
            "session_id": uuid::Uuid::new_v4(),
            "prompt": "hi",
            "callback_url": "http://127.0.0.1:9/cb",
            "callback_token": "t",
        });
        if let (Some(b), Some(e)) = (base.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        serde_json::from_value(base).unwrap()
    }

    #[test]
    fn skill_paths_are_a_plain_name_then_relative_segments() {
        for ok in [
            "s/SKILL.md",
            "my-skill/scripts/run.py",
            "a.b/.hidden",
            "s/a..b",
        ] {
            assert!(valid_skill_path(ok), "{ok}");
        }
        for bad in [
            "", "SKILL.md", "s/", "s//x", "/s/x", "../s/x", "s/../x", "s/./x", "s/x/..", "-s/x",
            "s\\x/y", "s/x\\y", "s/x\ny", "a b/x",
        ] {
            assert!(!valid_skill_path(bad), "{bad:?}");
        }
        assert!(!valid_skill_path(&format!("s/{}", "x".repeat(1100))));
    }

    #[test]
    fn validation_refuses_what_would_escape_or_overflow() {
        assert!(validate(&request(json!({}))).is_ok());
        let ok = json!({
            "skills": [{"path": "s/SKILL.md", "url": "http://x/y?sig=1", "size": 3}],
            "slash_commands": [{"name": "shout", "content": "x $ARGUMENTS"}],
            "subagents": [{"name": "counter", "content": "---\nname: counter\n---\nCount."}],
            "instructions": "Be kind.",
            "mcp_config": {"mcpServers": {"echo": {"command": "python3"}}},
            "capabilities_digest": "abc123",
        });
        assert!(validate(&request(ok)).is_ok());
        let big = "x".repeat(MAX_DOCUMENT_BYTES + 1);
        for bad in [
            json!({"skills": [{"path": "../x/y", "url": "http://x/y", "size": 1}]}),
            json!({"skills": [{"path": "s/SKILL.md", "url": "file:///etc/passwd", "size": 1}]}),
            json!({"skills": [{"path": "s/SKILL.md", "url": "http://x/y", "size": -1}]}),
            json!({"skills": [{"path": "s/a", "url": "http://x/a", "size": 1}, {"path": "s/a", "url": "http://x/b", "size": 1}]}),
            json!({"skills": [{"path": "s/a", "url": "http://x/a", "size": MAX_SKILLS_BYTES + 1}]}),
            json!({"slash_commands": [{"name": "../x", "content": ""}]}),
            json!({"slash_commands": [{"name": "a", "content": ""}, {"name": "a", "content": ""}]}),
            json!({"subagents": [{"name": "a/b", "content": ""}]}),
            json!({"subagents": [{"name": "a", "content": big}]}),
            json!({"instructions": "a\u{0}b"}),
            json!({"mcp_config": {"servers": {}}}),
            json!({"mcp_config": []}),
            json!({"capabilities_digest": ""}),
            json!({"capabilities_digest": "../x"}),
        ] {
            assert!(validate(&request(bad.clone())).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_key_is_the_digest_or_empty_for_nothing() {
        assert_eq!(staging_key(&request(json!({}))), Some(String::new()));
        // Nothing staged is nothing, whatever the snapshot's digest.
        assert_eq!(
            staging_key(&request(json!({"capabilities_digest": "d1"}))),
            Some(String::new())
        );
        assert_eq!(
            staging_key(&request(
                json!({"capabilities_digest": "d1", "instructions": "x"})
            )),
            Some("d1".into())
        );
        assert_eq!(staging_key(&request(json!({"instructions": "x"}))), None);
        // The MCP path depends on the configuration only.
        let a = mcp_file(&json!({"mcpServers": {"a": {"command": "x"}}}));
        let b = mcp_file(&json!({"mcpServers": {"a": {"command": "x"}}}));
        let c = mcp_file(&json!({"mcpServers": {"a": {"command": "y"}}}));
        assert_eq!(a.1, b.1);
        assert_ne!(a.1, c.1);
        assert!(a.1.starts_with("mcp-") && a.1.ends_with(".json"));
    }

    /// Serves `/f/{name}` from `files` (name → body), with a wrong length for `liar`.
    async fn serve(files: Vec<(&'static str, Vec<u8>)>) -> String {
        use axum::extract::Path as AxPath;
        use axum::http::StatusCode;
        use axum::routing::get;
        let files = std::sync::Arc::new(files);
        let app = axum::Router::new().route(
            "/f/{name}",
            get(move |AxPath(name): AxPath<String>| {
                let files = files.clone();
                async move {
                    match files.iter().find(|(n, _)| *n == name) {
                        Some((_, body)) => (StatusCode::OK, body.clone()),
                        None => (StatusCode::NOT_FOUND, Vec::new()),
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/f", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        url
    }

    /// The entries of `dir` once an earlier staging's background deletion is done.
    async fn settled_entries(dir: &Path) -> Vec<std::ffi::OsString> {
        for _ in 0..200 {
            let names: Vec<_> = std::fs::read_dir(dir)
                .unwrap()
                .flatten()
                .map(|e| e.file_name())
                .collect();
            if !names.iter().any(|n| {
                let n = n.to_string_lossy();
                n.starts_with(TRASH_PREFIX) || n.starts_with(STAGE_PREFIX)
            }) {
                return names;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("the earlier staging in {} was not deleted", dir.display());
    }

    fn read(path: &Path) -> String {
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    #[tokio::test]
    async fn staging_replaces_the_directories_and_skips_when_nothing_changed() {
        let url = serve(vec![
            ("skill", b"---\nname: s\n---\nbody".to_vec()),
            ("script", b"#!/bin/sh\necho hi\n".to_vec()),
        ])
        .await;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join(".claude_data");
        std::fs::create_dir_all(data.join("skills/stale")).unwrap();
        std::fs::write(data.join("skills/stale/SKILL.md"), "old").unwrap();
        std::fs::create_dir_all(data.join("commands")).unwrap();
        std::fs::write(data.join("commands/old.md"), "old").unwrap();
        std::fs::create_dir_all(data.join("executor/stage-left-over")).unwrap();
        std::fs::create_dir_all(data.join("executor/trash-left-over/skills")).unwrap();
        let http = reqwest::Client::new();
        let first = request(json!({
            "skills": [
                {"path": "s/SKILL.md", "url": format!("{url}/skill?X-Amz-Signature=secret"), "size": 20},
                {"path": "s/scripts/run.sh", "url": format!("{url}/script"), "size": 18},
            ],
            "slash_commands": [{"name": "shout", "content": "Shout $ARGUMENTS"}],
            "subagents": [{"name": "counter", "content": "Count."}],
            "instructions": "Be kind.",
            "mcp_config": {"mcpServers": {"echo": {"command": "python3"}}},
            "capabilities_digest": "d1",
        }));
        let out = stage(&data, &http, &first, None).await.unwrap();
        assert!(out.restaged);
        assert_eq!(out.staged.key.as_deref(), Some("d1"));
        assert_eq!(
            read(&data.join("skills/s/SKILL.md")),
            "---\nname: s\n---\nbody"
        );
        let mode = |p: &str| {
            std::fs::metadata(data.join(p))
                .unwrap()
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!(mode("skills/s/scripts/run.sh"), 0o755);
        assert_eq!(mode("skills/s/SKILL.md"), 0o644);
        assert!(!data.join("skills/stale").exists());
        assert!(!data.join("commands/old.md").exists());
        settled_entries(&data.join("executor")).await;
        assert!(!data.join("executor/stage-left-over").exists());
        assert!(!data.join("executor/trash-left-over").exists());
        assert_eq!(read(&data.join("commands/shout.md")), "Shout $ARGUMENTS");
        assert_eq!(read(&data.join("agents/counter.md")), "Count.");
        assert_eq!(read(&data.join("CLAUDE.md")), "Be kind.");
        let mcp = out.staged.mcp_config.clone().unwrap();
        assert!(mcp.starts_with(data.join("executor")));
        assert_eq!(
            std::fs::metadata(&mcp).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let config: serde_json::Value = serde_json::from_str(&read(&mcp)).unwrap();
        assert_eq!(config["mcpServers"]["echo"]["command"], "python3");

        // The same digest with untouched files: nothing is fetched (the server is not asked:
        // these URLs would fail).
        let mut same = first.clone();
        for f in &mut same.skills {
            f.url = "http://127.0.0.1:9/gone".into();
        }
        let again = stage(&data, &http, &same, Some(out.record.clone()))
            .await
            .unwrap();
        assert!(!again.restaged);
        assert_eq!(again.staged, out.staged);

        // A staged file changed by the agent: staged again (and the URLs are needed).
        std::fs::write(data.join("commands/shout.md"), "changed").unwrap();
        let err = stage(&data, &http, &same, Some(again.record.clone()))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("could not fetch the skill file `s/"),
            "{err}"
        );
        assert!(!err.contains("127.0.0.1"), "{err}");
        let again = stage(&data, &http, &first, Some(out.record.clone()))
            .await
            .unwrap();
        assert!(again.restaged);
        assert_eq!(read(&data.join("commands/shout.md")), "Shout $ARGUMENTS");

        // A run with less: what it does not have is gone, the MCP file too.
        let second = request(json!({
            "slash_commands": [{"name": "whisper", "content": "psst"}],
            "capabilities_digest": "d2",
        }));
        let out2 = stage(&data, &http, &second, Some(again.record))
            .await
            .unwrap();
        assert!(out2.restaged);
        assert!(out2.staged.mcp_config.is_none());
        assert!(!data.join("skills").exists());
        assert!(!data.join("agents").exists());
        assert!(!data.join("CLAUDE.md").exists());
        assert!(!mcp.exists());
        assert!(!data.join("commands/shout.md").exists());
        assert_eq!(read(&data.join("commands/whisper.md")), "psst");
        let left = settled_entries(&data.join("executor")).await;
        assert!(left.is_empty(), "{left:?}");

        // Nothing at all.
        let none = stage(&data, &http, &request(json!({})), Some(out2.record))
            .await
            .unwrap();
        assert_eq!(none.staged, Staged::nothing());
        assert!(!data.join("commands").exists());
    }

    #[tokio::test]
    async fn a_file_of_the_wrong_size_fails_and_leaves_the_old_staging() {
        let url = serve(vec![("a", b"12345".to_vec())]).await;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join(".claude_data");
        std::fs::create_dir_all(data.join("skills/keep")).unwrap();
        let http = reqwest::Client::new();
        for (size, expect) in [(4, "announced 5 bytes"), (6, "announced 5 bytes")] {
            let req = request(json!({
                "skills": [{"path": "s/a", "url": format!("{url}/a?X-Amz-Signature=secret"), "size": size}],
            }));
            let err = stage(&data, &http, &req, None)
                .await
                .unwrap_err()
                .to_string();
            assert!(err.contains("`s/a`") && err.contains(expect), "{err}");
            assert!(!err.contains("secret"), "{err}");
        }
        let req = request(json!({
            "skills": [{"path": "s/a", "url": format!("{url}/missing"), "size": 1}],
        }));
        let err = stage(&data, &http, &req, None)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("HTTP 404"), "{err}");
        // The previous skills are still there, no staging directory is left.
        assert!(data.join("skills/keep").is_dir());
        let left = settled_entries(&data.join("executor")).await;
        assert!(left.is_empty(), "{left:?}");
    }

    #[tokio::test]
    async fn a_linked_configuration_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = dir.path().join("elsewhere");
        std::fs::create_dir_all(&elsewhere).unwrap();
        let data = dir.path().join(".claude_data");
        std::os::unix::fs::symlink(&elsewhere, &data).unwrap();
        let err = stage(&data, &reqwest::Client::new(), &request(json!({})), None)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a directory"), "{err}");
        // A link planted as `skills` is removed, never followed.
        std::fs::remove_file(&data).unwrap();
        std::fs::create_dir_all(&data).unwrap();
        std::fs::write(elsewhere.join("precious"), "x").unwrap();
        std::os::unix::fs::symlink(&elsewhere, data.join("skills")).unwrap();
        stage(&data, &reqwest::Client::new(), &request(json!({})), None)
            .await
            .unwrap();
        assert!(std::fs::symlink_metadata(data.join("skills")).is_err());
        settled_entries(&data.join("executor")).await;
        assert!(elsewhere.join("precious").exists());
    }
}
