//! The workspace a run works in: a git repository (cloned, or initialised on the spot), the
//! task's attachments under `inputs/`, and the accounting of what the run changed. (The CLI's
//! configuration directory inside it, `.claude_data`, is [`crate::staging`]'s.)
//!
//! Changes are measured without touching the user's history or index: at the start, the whole
//! working tree is written as a tree object through a private index file (`GIT_INDEX_FILE`, a
//! copy of the user's index so unchanged files are not re-hashed), and at the end the same is
//! done again and the two trees are compared with rename detection. Ignored paths (the defaults
//! below, `WORKSPACE_GIT_IGNORE`, the repository's own `.gitignore`) are not counted.

pub mod git;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use futures::StreamExt;
use protocol::event::{ChangeKind, FileChange};
use protocol::executor::{GitSource, InputFile};
use tokio::io::AsyncWriteExt;
use tracing::{debug, info, instrument, warn};

use git::{Askpass, Git};

/// Patterns always written to `.git/info/exclude`: the agent's own data, attachments, and
/// dependency and cache directories nobody wants reported as changes.
pub const DEFAULT_IGNORES: &[&str] = &[
    ".claude_data/",
    "inputs/",
    "node_modules/",
    ".venv/",
    "venv/",
    "__pycache__/",
    "*.pyc",
    ".pytest_cache/",
    ".mypy_cache/",
    ".ruff_cache/",
    ".cache/",
    ".npm/",
    ".DS_Store",
];

/// Directory of the attachments, relative to the workspace.
pub const INPUTS_DIR: &str = "inputs";

/// Why preparing or measuring the workspace failed. `Display` is meant for the user.
#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{command} failed: {message}")]
    Git { command: String, message: String },
    #[error("could not clone the repository {url}: {message}")]
    Clone { url: String, message: String },
    #[error("could not fetch the attachment `{name}`: {reason}")]
    Input { name: String, reason: String },
}

impl WorkspaceError {
    fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let context = context.into();
        move |source| WorkspaceError::Io { context, source }
    }

    /// Removes every occurrence of `secret` from the message.
    pub fn redact(self, secret: &str) -> Self {
        if secret.is_empty() {
            return self;
        }
        match self {
            WorkspaceError::Git { command, message } => WorkspaceError::Git {
                command,
                message: message.replace(secret, "***"),
            },
            other => other,
        }
    }
}

/// Checks an attachment name: a plain file name, no path.
pub fn valid_input_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && !name.contains('/')
        && !name.contains('\\')
        && !name.contains("..")
        && !name.contains('\0')
}

/// A URL without its user information, for messages and logs.
pub fn redact_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) if !u.username().is_empty() || u.password().is_some() => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) => "(unparsable URL)".to_owned(),
    }
}

/// The workspace of this executor.
#[derive(Debug, Clone)]
pub struct Workspace {
    root: PathBuf,
    git: Git,
}

/// The state of the working tree at the start of a run.
pub struct Snapshot {
    tree: String,
    /// Holds the private index; removed with the snapshot.
    dir: tempfile::TempDir,
}

impl Snapshot {
    fn index(&self) -> PathBuf {
        self.dir.path().join("index")
    }
}

impl Workspace {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        Self {
            git: Git::new(root.clone()),
            root,
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Makes the workspace a repository: clones `source` into it when it is not one yet (a
    /// workspace that already is — a follow-up run — is left as it is), else `git init`.
    #[instrument(skip_all)]
    pub async fn ensure_repository(
        &self,
        source: Option<&GitSource>,
    ) -> Result<(), WorkspaceError> {
        tokio::fs::create_dir_all(&self.root)
            .await
            .map_err(WorkspaceError::io(format!(
                "could not create the workspace {}",
                self.root.display()
            )))?;
        if tokio::fs::try_exists(self.root.join(".git"))
            .await
            .unwrap_or(false)
        {
            debug!("workspace is already a repository");
            return Ok(());
        }
        match source {
            Some(source) => self.clone_into(source).await,
            None => {
                self.git
                    .run(&["-c", "init.defaultBranch=main", "init", "-q"])
                    .await?;
                info!("initialised an empty repository");
                Ok(())
            }
        }
    }

    /// Clones next to the files already there: into a fresh sub-directory, whose entries then
    /// move up (a clone needs an empty target).
    async fn clone_into(&self, source: &GitSource) -> Result<(), WorkspaceError> {
        let shown = redact_url(&source.url);
        info!(url = %shown, branch = ?source.branch, "cloning");
        let staging = tempfile::Builder::new()
            .prefix(".executor-clone-")
            .tempdir_in(&self.root)
            .map_err(WorkspaceError::io(
                "could not create a directory for the clone",
            ))?;
        let target = staging.path().join("repo");
        let target_str = target.to_string_lossy().into_owned();
        let mut args = vec!["clone", "--quiet"];
        if let Some(branch) = source.branch.as_deref().filter(|b| !b.is_empty()) {
            args.extend(["--branch", branch]);
        }
        args.extend(["--", source.url.as_str(), target_str.as_str()]);
        let result = match source
            .token
            .as_ref()
            .map(|t| t.expose())
            .filter(|t| !t.is_empty())
        {
            Some(token) => {
                let askpass = Askpass::create()
                    .await
                    .map_err(WorkspaceError::io("could not prepare git credentials"))?;
                self.git.run_with_token(&args, &askpass, token).await
            }
            None => self.git.run(&args).await,
        };
        result.map_err(|e| {
            let mut message = match e {
                WorkspaceError::Git { message, .. } => message,
                other => other.to_string(),
            };
            message = message.replace(&source.url, &shown);
            if let Some(token) = source
                .token
                .as_ref()
                .map(|t| t.expose())
                .filter(|t| !t.is_empty())
            {
                message = message.replace(token, "***");
            }
            WorkspaceError::Clone {
                url: shown.clone(),
                message,
            }
        })?;
        let mut entries = tokio::fs::read_dir(&target)
            .await
            .map_err(WorkspaceError::io("could not read the clone"))?;
        while let Some(entry) = entries
            .next_entry()
            .await
            .map_err(WorkspaceError::io("could not read the clone"))?
        {
            let to = self.root.join(entry.file_name());
            if tokio::fs::symlink_metadata(&to).await.is_ok() {
                return Err(WorkspaceError::Clone {
                    url: shown,
                    message: format!(
                        "`{}` already exists in the workspace",
                        entry.file_name().to_string_lossy()
                    ),
                });
            }
            tokio::fs::rename(entry.path(), &to)
                .await
                .map_err(WorkspaceError::io(
                    "could not move the clone into the workspace",
                ))?;
        }
        Ok(())
    }

    /// Adds the default ignore patterns and `extra` to the repository's `info/exclude`, keeping
    /// what is there.
    pub async fn write_excludes(&self, extra: &[String]) -> Result<(), WorkspaceError> {
        let path = self.git_path("info/exclude").await?;
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(WorkspaceError::io("could not create .git/info"))?;
        }
        let existing = tokio::fs::read_to_string(&path).await.unwrap_or_default();
        let present: Vec<&str> = existing.lines().map(str::trim).collect();
        let mut missing: Vec<&str> = Vec::new();
        for pattern in DEFAULT_IGNORES
            .iter()
            .copied()
            .chain(extra.iter().map(String::as_str))
        {
            if !present.contains(&pattern) && !missing.contains(&pattern) {
                missing.push(pattern);
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        let mut text = existing;
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str("# added by the executor\n");
        for pattern in missing {
            text.push_str(pattern);
            text.push('\n');
        }
        tokio::fs::write(&path, text)
            .await
            .map_err(WorkspaceError::io("could not write .git/info/exclude"))
    }

    /// Downloads the attachments into `inputs/` (through a `.part` file, renamed when complete).
    #[instrument(skip_all, fields(count = inputs.len()))]
    pub async fn fetch_inputs(
        &self,
        client: &reqwest::Client,
        inputs: &[InputFile],
    ) -> Result<(), WorkspaceError> {
        if inputs.is_empty() {
            return Ok(());
        }
        let dir = self.root.join(INPUTS_DIR);
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(WorkspaceError::io("could not create inputs/"))?;
        for input in inputs {
            let fail = |reason: String| WorkspaceError::Input {
                name: input.name.clone(),
                reason,
            };
            if !valid_input_name(&input.name) {
                return Err(fail("the name must be a plain file name".into()));
            }
            // The URL is presigned: it is a credential, so it is never logged.
            let response = client
                .get(&input.url)
                .send()
                .await
                .map_err(|e| fail(format!("request failed ({})", error_kind(&e))))?;
            if !response.status().is_success() {
                return Err(fail(format!("HTTP {}", response.status().as_u16())));
            }
            let part = dir.join(format!("{}.part", input.name));
            let mut file = tokio::fs::File::create(&part)
                .await
                .map_err(|e| fail(e.to_string()))?;
            let mut body = response.bytes_stream();
            let mut size = 0u64;
            while let Some(chunk) = body.next().await {
                let chunk = chunk
                    .map_err(|e| fail(format!("download interrupted ({})", error_kind(&e))))?;
                size += chunk.len() as u64;
                file.write_all(&chunk)
                    .await
                    .map_err(|e| fail(e.to_string()))?;
            }
            file.flush().await.map_err(|e| fail(e.to_string()))?;
            drop(file);
            tokio::fs::rename(&part, dir.join(&input.name))
                .await
                .map_err(|e| fail(e.to_string()))?;
            info!(name = %input.name, size, "attachment staged");
        }
        Ok(())
    }

    /// A file of the repository's git directory: `.git/{name}` when `.git` is a directory (the
    /// common case, without running git), else where git says (worktrees, `gitdir:` files).
    async fn git_path(&self, name: &str) -> Result<PathBuf, WorkspaceError> {
        let dot_git = self.root.join(".git");
        if tokio::fs::metadata(&dot_git)
            .await
            .is_ok_and(|m| m.is_dir())
        {
            return Ok(dot_git.join(name));
        }
        let out = self.git.run(&["rev-parse", "--git-path", name]).await?;
        Ok(self.root.join(String::from_utf8_lossy(&out).trim()))
    }

    /// Records the working tree as it is now.
    #[instrument(skip_all)]
    pub async fn snapshot(&self) -> Result<Snapshot, WorkspaceError> {
        let dir = tempfile::Builder::new()
            .prefix("executor-index")
            .tempdir()
            .map_err(WorkspaceError::io("could not create a temporary index"))?;
        let snapshot_index = dir.path().join("index");
        // Start from the user's index: its stat cache spares re-hashing unchanged files.
        if let Ok(user_index) = self.git_path("index").await
            && tokio::fs::copy(&user_index, &snapshot_index).await.is_err()
        {
            debug!("no index to start from");
        }
        let tree = self.write_tree(&snapshot_index).await?;
        debug!(%tree, "workspace snapshot");
        Ok(Snapshot { tree, dir })
    }

    async fn write_tree(&self, index: &Path) -> Result<String, WorkspaceError> {
        self.git
            .run_with_index(&["add", "--all", "--", "."], index)
            .await?;
        let out = self.git.run_with_index(&["write-tree"], index).await?;
        Ok(String::from_utf8_lossy(&out).trim().to_owned())
    }

    /// What changed since `snapshot`: one entry per file, renames detected.
    #[instrument(skip_all)]
    pub async fn changes(&self, snapshot: &Snapshot) -> Result<Vec<FileChange>, WorkspaceError> {
        let index = snapshot.dir.path().join("index-end");
        if tokio::fs::copy(snapshot.index(), &index).await.is_err() {
            debug!("starting the final index from scratch");
        }
        let end = self.write_tree(&index).await?;
        if end == snapshot.tree {
            return Ok(Vec::new());
        }
        let diff = |format: &'static str| {
            let (start, end) = (snapshot.tree.clone(), end.clone());
            async move {
                self.git
                    .run(&[
                        "diff-tree",
                        "-r",
                        "-z",
                        "-M",
                        "--no-commit-id",
                        format,
                        &start,
                        &end,
                    ])
                    .await
            }
        };
        let names = diff("--name-status").await?;
        let counts = diff("--numstat").await?;
        Ok(merge_changes(
            &parse_name_status(&names),
            &parse_numstat(&counts),
        ))
    }

    /// Gives the workspace to the agent's user (files the executor created belong to it).
    pub async fn chown(&self, uid: u32, gid: u32) -> Result<(), WorkspaceError> {
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || chown_tree(&root, uid, gid))
            .await
            .map_err(|e| WorkspaceError::Io {
                context: "could not hand the workspace to the agent's user".into(),
                source: std::io::Error::other(e.to_string()),
            })?
            .map_err(WorkspaceError::io(
                "could not hand the workspace to the agent's user",
            ))
    }
}

/// `lchown` of everything under `path`. An entry that disappears meanwhile is skipped: what an
/// earlier capabilities staging left is deleted in the background (see `crate::staging`).
fn chown_tree(path: &Path, uid: u32, gid: u32) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let gone = |e: &std::io::Error| e.kind() == std::io::ErrorKind::NotFound;
    let meta = match std::fs::symlink_metadata(path) {
        Err(e) if gone(&e) => return Ok(()),
        other => other?,
    };
    if meta.uid() != uid || meta.gid() != gid {
        match std::os::unix::fs::lchown(path, Some(uid), Some(gid)) {
            Err(e) if gone(&e) => return Ok(()),
            other => other?,
        }
    }
    if meta.is_dir() {
        let entries = match std::fs::read_dir(path) {
            Err(e) if gone(&e) => return Ok(()),
            other => other?,
        };
        for entry in entries {
            match entry {
                Ok(entry) => chown_tree(&entry.path(), uid, gid)?,
                Err(e) if gone(&e) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

fn error_kind(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "transport error"
    }
}

/// One `--name-status -z` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
struct NameStatus {
    kind: ChangeKind,
    path: String,
    old_path: Option<String>,
}

fn parse_name_status(out: &[u8]) -> Vec<NameStatus> {
    let text = String::from_utf8_lossy(out);
    let mut fields = text.split('\0').filter(|f| !f.is_empty());
    let mut entries = Vec::new();
    while let Some(status) = fields.next() {
        let letter = status.chars().next().unwrap_or('M');
        let entry = match letter {
            'R' | 'C' => {
                let (Some(old), Some(new)) = (fields.next(), fields.next()) else {
                    break;
                };
                NameStatus {
                    kind: if letter == 'R' {
                        ChangeKind::Renamed
                    } else {
                        ChangeKind::Added
                    },
                    path: new.to_owned(),
                    old_path: (letter == 'R').then(|| old.to_owned()),
                }
            }
            _ => {
                let Some(path) = fields.next() else { break };
                NameStatus {
                    kind: match letter {
                        'A' => ChangeKind::Added,
                        'D' => ChangeKind::Deleted,
                        _ => ChangeKind::Modified,
                    },
                    path: path.to_owned(),
                    old_path: None,
                }
            }
        };
        entries.push(entry);
    }
    entries
}

/// `--numstat -z`: path → (added, deleted); binary files count 0.
fn parse_numstat(out: &[u8]) -> HashMap<String, (i64, i64)> {
    let text = String::from_utf8_lossy(out);
    let mut fields = text.split('\0');
    let mut counts = HashMap::new();
    while let Some(head) = fields.next() {
        if head.is_empty() {
            continue;
        }
        let mut parts = head.splitn(3, '\t');
        let added = parts.next().and_then(|n| n.parse().ok()).unwrap_or(0);
        let deleted = parts.next().and_then(|n| n.parse().ok()).unwrap_or(0);
        let path = match parts.next() {
            // A rename: "a\td\t" then old and new paths as separate fields.
            Some("") | None => {
                let _old = fields.next();
                fields.next().unwrap_or_default().to_owned()
            }
            Some(path) => path.to_owned(),
        };
        counts.insert(path, (added, deleted));
    }
    counts
}

fn merge_changes(names: &[NameStatus], counts: &HashMap<String, (i64, i64)>) -> Vec<FileChange> {
    names
        .iter()
        .map(|n| {
            let (lines_added, lines_deleted) = counts.get(&n.path).copied().unwrap_or((0, 0));
            FileChange {
                path: n.path.clone(),
                change: n.kind,
                old_path: n.old_path.clone(),
                lines_added,
                lines_deleted,
            }
        })
        .collect()
}

/// Logs and drops an error of the change accounting, which never fails a run.
pub fn warn_changes_failed(error: &WorkspaceError) {
    warn!(error = %error, "could not measure the run's file changes");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_names_are_plain_file_names() {
        for ok in ["a.txt", "report 2024.pdf", ".hidden", "a..b"] {
            assert_eq!(valid_input_name(ok), !ok.contains(".."), "{ok}");
        }
        for bad in ["", ".", "a/b", "../x", "..", "x\\y", "a\0"] {
            assert!(!valid_input_name(bad), "{bad}");
        }
    }

    #[test]
    fn urls_lose_their_credentials_in_messages() {
        assert_eq!(
            redact_url("https://user:tok@github.com/o/r.git"),
            "https://github.com/o/r.git"
        );
        assert_eq!(
            redact_url("https://github.com/o/r"),
            "https://github.com/o/r"
        );
    }

    #[test]
    fn diff_output_parses_with_renames() {
        let names = b"A\0new.txt\0M\0src/lib.rs\0D\0gone.txt\0R087\0old name.txt\0new name.txt\0";
        let counts = [
            "3\t0\tnew.txt",
            "1\t2\tsrc/lib.rs",
            "0\t5\tgone.txt",
            "1\t1\t",
            "old name.txt",
            "new name.txt",
            "-\t-\tbin.dat",
            "",
        ]
        .join("\0");
        let names = parse_name_status(names);
        let counts = parse_numstat(counts.as_bytes());
        assert_eq!(counts.get("bin.dat"), Some(&(0, 0)));
        let changes = merge_changes(&names, &counts);
        assert_eq!(
            changes,
            vec![
                FileChange {
                    path: "new.txt".into(),
                    change: ChangeKind::Added,
                    old_path: None,
                    lines_added: 3,
                    lines_deleted: 0
                },
                FileChange {
                    path: "src/lib.rs".into(),
                    change: ChangeKind::Modified,
                    old_path: None,
                    lines_added: 1,
                    lines_deleted: 2
                },
                FileChange {
                    path: "gone.txt".into(),
                    change: ChangeKind::Deleted,
                    old_path: None,
                    lines_added: 0,
                    lines_deleted: 5
                },
                FileChange {
                    path: "new name.txt".into(),
                    change: ChangeKind::Renamed,
                    old_path: Some("old name.txt".into()),
                    lines_added: 1,
                    lines_deleted: 1
                },
            ]
        );
    }

    async fn write(root: &Path, path: &str, text: &str) {
        let p = root.join(path);
        tokio::fs::create_dir_all(p.parent().unwrap())
            .await
            .unwrap();
        tokio::fs::write(p, text).await.unwrap();
    }

    #[tokio::test]
    async fn changes_are_measured_against_the_start_without_touching_the_index() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("ws");
        let ws = Workspace::new(&root);
        ws.ensure_repository(None).await.unwrap();
        ws.write_excludes(&["secret.txt".into(), "build/".into()])
            .await
            .unwrap();
        // Idempotent.
        ws.write_excludes(&["secret.txt".into()]).await.unwrap();
        let exclude = tokio::fs::read_to_string(root.join(".git/info/exclude"))
            .await
            .unwrap();
        assert_eq!(exclude.matches(".claude_data/").count(), 1, "{exclude}");
        assert_eq!(exclude.matches("secret.txt").count(), 1);

        write(&root, "keep.txt", "one\ntwo\nthree\n").await;
        write(&root, "edit.txt", "a\nb\n").await;
        write(&root, "rename-me.txt", "lorem\nipsum\ndolor\nsit\namet\n").await;
        write(&root, "gone.txt", "x\n").await;
        let snap = ws.snapshot().await.unwrap();
        assert!(ws.changes(&snap).await.unwrap().is_empty());

        write(&root, "edit.txt", "a\nB\nc\n").await;
        write(&root, "added.txt", "new\n").await;
        write(&root, "secret.txt", "hidden\n").await;
        write(&root, "build/out.bin", "hidden\n").await;
        write(&root, ".claude_data/x.json", "{}").await;
        write(&root, "inputs/in.csv", "a,b").await;
        write(&root, "node_modules/m/index.js", "").await;
        tokio::fs::remove_file(root.join("gone.txt")).await.unwrap();
        tokio::fs::rename(root.join("rename-me.txt"), root.join("renamed.txt"))
            .await
            .unwrap();

        let mut changes = ws.changes(&snap).await.unwrap();
        changes.sort_by(|a, b| a.path.cmp(&b.path));
        let summary: Vec<(&str, ChangeKind, i64, i64)> = changes
            .iter()
            .map(|c| (c.path.as_str(), c.change, c.lines_added, c.lines_deleted))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("added.txt", ChangeKind::Added, 1, 0),
                ("edit.txt", ChangeKind::Modified, 2, 1),
                ("gone.txt", ChangeKind::Deleted, 0, 1),
                ("renamed.txt", ChangeKind::Renamed, 0, 0),
            ]
        );
        assert_eq!(changes[3].old_path.as_deref(), Some("rename-me.txt"));
        // No commit, no staged file in the user's index.
        let git = Git::new(&root);
        assert!(git.run(&["rev-parse", "--verify", "HEAD"]).await.is_err());
        let staged = git.run(&["ls-files"]).await.unwrap();
        assert!(staged.is_empty(), "{}", String::from_utf8_lossy(&staged));
    }

    #[tokio::test]
    async fn a_repository_is_cloned_into_a_workspace() {
        let dir = tempfile::tempdir().unwrap();
        let origin = dir.path().join("origin");
        let seed = Workspace::new(&origin);
        seed.ensure_repository(None).await.unwrap();
        write(&origin, "README.md", "hello\n").await;
        let g = Git::new(&origin);
        g.run(&["add", "README.md"]).await.unwrap();
        g.run(&[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@e",
            "commit",
            "-qm",
            "init",
        ])
        .await
        .unwrap();

        let root = dir.path().join("ws");
        tokio::fs::create_dir_all(root.join(".claude_data"))
            .await
            .unwrap();
        let ws = Workspace::new(&root);
        let source = GitSource {
            url: origin.to_string_lossy().into_owned(),
            branch: None,
            token: Some(protocol::secrets::SecretValue::new("tok-secret")),
        };
        ws.ensure_repository(Some(&source)).await.unwrap();
        assert_eq!(
            tokio::fs::read_to_string(root.join("README.md"))
                .await
                .unwrap(),
            "hello\n"
        );
        // Only the repository's entries plus what was there.
        let mut names = Vec::new();
        let mut rd = tokio::fs::read_dir(&root).await.unwrap();
        while let Some(e) = rd.next_entry().await.unwrap() {
            names.push(e.file_name().to_string_lossy().into_owned());
        }
        names.sort();
        assert_eq!(names, vec![".claude_data", ".git", "README.md"]);
        // A second call leaves the repository alone.
        ws.ensure_repository(Some(&source)).await.unwrap();

        let bad = Workspace::new(dir.path().join("ws2"));
        let err = bad
            .ensure_repository(Some(&GitSource {
                url: "https://user:tok-secret@127.0.0.1:1/nope.git".into(),
                branch: None,
                token: Some(protocol::secrets::SecretValue::new("tok-secret")),
            }))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("could not clone the repository https://127.0.0.1:1/nope.git"),
            "{err}"
        );
        assert!(!err.contains("tok-secret"), "{err}");
    }
}
