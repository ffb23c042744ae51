//! Workspace export against a real SigV4-checking S3 server (s3s-fs, started by
//! `test_support::s3`; `S3S_FS_BIN`, default `$WORKCELL_TOOLS/bin/s3s-fs`).

use executor_manager::config::S3Settings;
use executor_manager::export::{ExportTarget, Exporter};
use protocol::files::{Manifest, ManifestChange as Change};
use uuid::Uuid;

use test_support::s3::{BUCKET, S3Server};

/// The exporter's settings for `s3`, signing with `secret`.
fn settings(s3: &S3Server, secret: &str) -> S3Settings {
    S3Settings {
        endpoint: s3.endpoint.clone(),
        public_endpoint: None,
        access_key: s3.access_key.clone().into(),
        secret_key: secret.into(),
        bucket: BUCKET.into(),
        region: "us-east-1".into(),
        force_path_style: true,
    }
}

async fn get(exporter: &Exporter, key: &str) -> Vec<u8> {
    exporter
        .bucket()
        .get(key, u64::MAX)
        .await
        .unwrap_or_else(|e| panic!("get {key}: {e}"))
        .unwrap_or_else(|| panic!("{key} is missing"))
        .to_vec()
}

async fn keys(exporter: &Exporter, prefix: &str) -> Vec<String> {
    let mut keys = exporter.bucket().list(prefix).await.unwrap();
    keys.sort();
    keys
}

#[tokio::test]
async fn export_uploads_changes_manifest_and_archive() {
    let s3 = S3Server::start().await;
    let exporter = Exporter::new(&settings(&s3, &s3.secret_key), true);
    let ws = tempfile::tempdir().unwrap();
    let w = ws.path();
    std::fs::create_dir_all(w.join("dir")).unwrap();
    std::fs::create_dir_all(w.join(".git")).unwrap();
    std::fs::write(w.join("a.txt"), "one").unwrap();
    std::fs::write(w.join("dir/b.json"), "{}").unwrap();
    std::fs::write(w.join(".hidden"), "secret").unwrap();
    std::fs::write(w.join(".git/config"), "x").unwrap();
    let big: Vec<u8> = (0..9 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(w.join("big.bin"), &big).unwrap();

    let (user, session) = (Uuid::new_v4(), Uuid::new_v4());
    let run1 = ExportTarget {
        user_id: user,
        session_id: session,
        run_id: Uuid::new_v4(),
    };
    let s = exporter.export(w, run1).await.expect("first export");
    assert_eq!(
        (s.files, s.added, s.modified, s.unchanged, s.deleted),
        (3, 3, 0, 0, 0)
    );

    let manifest: Manifest =
        serde_json::from_slice(&get(&exporter, &s.manifest_key).await).unwrap();
    let paths: Vec<&str> = manifest.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, vec!["a.txt", "big.bin", "dir/b.json"]);
    let a = &manifest.files[0];
    assert_eq!(a.size, 3);
    assert_eq!(a.content_type, "text/plain; charset=utf-8");
    assert_eq!(a.change, Change::Added);
    assert_eq!(get(&exporter, &a.key).await, b"one");
    // The big file went up in parts and came back whole.
    assert_eq!(get(&exporter, &manifest.files[1].key).await, big);
    assert_eq!(manifest.files[2].content_type, "application/json");
    assert_eq!(
        test_support::zip::names(&get(&exporter, &s.archive_key).await),
        vec!["a.txt", "big.bin", "dir/b.json"]
    );

    // Second run: one modified, one deleted, one added, the big one unchanged.
    std::fs::write(w.join("a.txt"), "two").unwrap();
    std::fs::remove_file(w.join("dir/b.json")).unwrap();
    std::fs::write(w.join("c.md"), "# c").unwrap();
    let run2 = ExportTarget {
        run_id: Uuid::new_v4(),
        ..run1
    };
    let s2 = exporter.export(w, run2).await.expect("second export");
    assert_eq!(
        (s2.files, s2.added, s2.modified, s2.unchanged, s2.deleted),
        (3, 1, 1, 1, 1)
    );
    let m2: Manifest = serde_json::from_slice(&get(&exporter, &s2.manifest_key).await).unwrap();
    assert_eq!(m2.previous_run_id, Some(run1.run_id));
    assert_eq!(m2.deleted, vec!["dir/b.json"]);
    let by_path = |p: &str| m2.files.iter().find(|f| f.path == p).unwrap().clone();
    assert_eq!(by_path("a.txt").change, Change::Modified);
    assert_eq!(get(&exporter, &by_path("a.txt").key).await, b"two");
    assert_eq!(by_path("c.md").change, Change::Added);
    assert_eq!(by_path("big.bin").change, Change::Unchanged);
    assert_eq!(
        by_path("big.bin").key,
        manifest.files[1].key,
        "unchanged keeps the old key"
    );
    // Only the changed files were uploaded under the second run's prefix.
    let prefix = format!("workspaces/{session}/runs/{}/files/", run2.run_id);
    assert_eq!(m2.user_id, user);
    assert_eq!(
        keys(&exporter, &prefix).await,
        vec![format!("{prefix}a.txt"), format!("{prefix}c.md")]
    );
    // The archive holds everything, but the big file itself was not uploaded again.
    assert!(s2.uploaded_bytes < s.uploaded_bytes - big.len() as u64 / 2);
}

/// A previous export that points outside the session (a tampered `latest.json`, or a manifest
/// naming another session's objects) is not trusted: the export starts afresh, uploads every file
/// under its own run, and its manifest names only keys of its own session.
#[tokio::test]
async fn a_previous_export_pointing_outside_the_session_is_ignored() {
    let s3 = S3Server::start().await;
    let exporter = Exporter::new(&settings(&s3, &s3.secret_key), true);
    let bucket = exporter.bucket();
    let ws = tempfile::tempdir().unwrap();
    std::fs::write(ws.path().join("a.txt"), "same").unwrap();
    let target = |session| ExportTarget {
        user_id: Uuid::new_v4(),
        session_id: session,
        run_id: Uuid::new_v4(),
    };
    let (other, mine) = (Uuid::new_v4(), Uuid::new_v4());
    let theirs = exporter.export(ws.path(), target(other)).await.unwrap();
    let first = exporter.export(ws.path(), target(mine)).await.unwrap();
    let own_prefix = objstore::keys::workspace_prefix(mine);
    let only_own_keys = |m: &Manifest| {
        std::iter::once(&m.archive_key)
            .chain(m.files.iter().map(|f| &f.key))
            .all(|k| objstore::keys::within(&own_prefix, k))
    };

    // latest.json points at the other session's manifest.
    let latest = objstore::keys::latest_key(mine);
    let pointer = serde_json::json!({"run_id": other, "manifest_key": theirs.manifest_key});
    bucket.put_json(&latest, &pointer).await.unwrap();
    let s = exporter.export(ws.path(), target(mine)).await.unwrap();
    assert_eq!((s.added, s.unchanged), (1, 0));
    let m: Manifest = serde_json::from_slice(&get(&exporter, &s.manifest_key).await).unwrap();
    assert_eq!(m.previous_run_id, None);
    assert!(only_own_keys(&m), "{m:?}");

    // A manifest inside the session whose entry names the other session's object.
    let mut forged: Manifest =
        serde_json::from_slice(&get(&exporter, &first.manifest_key).await).unwrap();
    let theirs_m: Manifest =
        serde_json::from_slice(&get(&exporter, &theirs.manifest_key).await).unwrap();
    forged.files[0].key = theirs_m.files[0].key.clone();
    bucket.put_json(&first.manifest_key, &forged).await.unwrap();
    let pointer = serde_json::json!({"run_id": forged.run_id, "manifest_key": first.manifest_key});
    bucket.put_json(&latest, &pointer).await.unwrap();
    let s = exporter.export(ws.path(), target(mine)).await.unwrap();
    assert_eq!((s.added, s.unchanged), (1, 0));
    let m: Manifest = serde_json::from_slice(&get(&exporter, &s.manifest_key).await).unwrap();
    assert!(only_own_keys(&m), "{m:?}");

    // Untampered, the next export does compare against the previous one.
    let s = exporter.export(ws.path(), target(mine)).await.unwrap();
    assert_eq!((s.added, s.unchanged), (0, 1));
}

#[tokio::test]
async fn export_with_a_wrong_secret_is_refused() {
    let s3 = S3Server::start().await;
    let exporter = Exporter::new(&settings(&s3, "wrong-secret"), true);
    let ws = tempfile::tempdir().unwrap();
    std::fs::write(ws.path().join("a.txt"), "one").unwrap();
    let target = ExportTarget {
        user_id: Uuid::new_v4(),
        session_id: Uuid::new_v4(),
        run_id: Uuid::new_v4(),
    };
    let err = exporter.export(ws.path(), target).await.unwrap_err();
    assert!(err.to_string().contains("S3"), "{err}");
}

/// Nothing outside the workspace is ever read: a link to a file or a directory outside is not
/// followed (and not exported), a FIFO does not hang the export, and a workspace root that is
/// itself a link fails the export with a clear error.
#[tokio::test]
async fn export_never_follows_links_or_opens_special_files() {
    let s3 = S3Server::start().await;
    let exporter = Exporter::new(&settings(&s3, &s3.secret_key), true);
    let outside = tempfile::tempdir().unwrap();
    std::fs::create_dir(outside.path().join("other-user")).unwrap();
    std::fs::write(outside.path().join("other-user/notes.txt"), "TOP SECRET").unwrap();
    std::fs::write(outside.path().join("secret.txt"), "TOP SECRET").unwrap();
    let ws = tempfile::tempdir().unwrap();
    let w = ws.path();
    std::fs::write(w.join("a.txt"), "one").unwrap();
    std::fs::create_dir(w.join("dir")).unwrap();
    std::fs::write(w.join("dir/b.txt"), "two").unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret.txt"), w.join("link.txt")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", w.join("passwd")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("other-user"), w.join("shared")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("other-user"), w.join("dir/deeper")).unwrap();
    let status = std::process::Command::new("mkfifo")
        .arg(w.join("pipe"))
        .status()
        .unwrap();
    assert!(status.success());

    let target = ExportTarget {
        user_id: Uuid::new_v4(),
        session_id: Uuid::new_v4(),
        run_id: Uuid::new_v4(),
    };
    let s = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        exporter.export(w, target),
    )
    .await
    .expect("the export hung (a FIFO opened for reading?)")
    .expect("export");
    let manifest: Manifest =
        serde_json::from_slice(&get(&exporter, &s.manifest_key).await).unwrap();
    let paths: Vec<&str> = manifest.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, vec!["a.txt", "dir/b.txt"]);
    let zip = get(&exporter, &s.archive_key).await;
    assert_eq!(test_support::zip::names(&zip), vec!["a.txt", "dir/b.txt"]);
    for key in keys(&exporter, &format!("workspaces/{}", target.session_id)).await {
        let bytes = get(&exporter, &key).await;
        for needle in [&b"TOP SECRET"[..], b"root:x:0:0"] {
            assert!(!bytes.windows(needle.len()).any(|x| x == needle), "{key}");
        }
    }

    // A workspace that is itself a link (to another workspace) is refused, not followed.
    let link = outside.path().join("ws-link");
    std::os::unix::fs::symlink(w, &link).unwrap();
    let err = exporter
        .export(
            &link,
            ExportTarget {
                run_id: Uuid::new_v4(),
                ..target
            },
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("symbolic link"), "{err}");
}

/// What a directory holds: every regular file's path and bytes, in path order.
fn tree(root: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    fn walk(root: &std::path::Path, dir: &std::path::Path, out: &mut Vec<(String, Vec<u8>)>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let t = e.file_type().unwrap();
            if t.is_dir() {
                walk(root, &e.path(), out);
            } else if t.is_file() {
                let rel = e.path().strip_prefix(root).unwrap().display().to_string();
                out.push((rel, std::fs::read(e.path()).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

/// A workspace exported on one host comes back whole on another: every file of the manifest
/// (checked against its SHA-256) and the agent's conversation files (kept out of the manifest),
/// replacing what that host had; what the export leaves out (`.git`) does not come back.
#[tokio::test]
async fn a_restore_rebuilds_the_exported_workspace_and_the_agents_conversation() {
    use executor_manager::export::restore::RestoreSource;
    let s3 = S3Server::start().await;
    let exporter = Exporter::new(&settings(&s3, &s3.secret_key), true);
    let host_a = tempfile::tempdir().unwrap();
    let a = host_a.path().join("workspace");
    std::fs::create_dir_all(a.join("src/deep")).unwrap();
    std::fs::create_dir_all(a.join(".git")).unwrap();
    std::fs::create_dir_all(a.join(".claude_data/projects/-workspace/conv-1")).unwrap();
    std::fs::write(a.join("a.txt"), "one").unwrap();
    std::fs::write(a.join("src/deep/lib.rs"), "fn main() {}").unwrap();
    std::fs::write(a.join(".git/HEAD"), "ref").unwrap();
    let big: Vec<u8> = (0..9 * 1024 * 1024u32).map(|i| (i % 241) as u8).collect();
    std::fs::write(a.join("big.bin"), &big).unwrap();
    std::fs::write(
        a.join(".claude_data/projects/-workspace/conv-1.jsonl"),
        "{\"type\":\"user\"}\n",
    )
    .unwrap();
    std::fs::write(
        a.join(".claude_data/projects/-workspace/conv-1/agent-1.jsonl"),
        "{}\n",
    )
    .unwrap();
    std::fs::write(a.join(".claude_data/settings.json"), "{}").unwrap();

    let (user, session, run) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let target = ExportTarget {
        user_id: user,
        session_id: session,
        run_id: run,
    };
    let summary = exporter.export(&a, target).await.expect("export");
    let manifest: Manifest =
        serde_json::from_slice(&get(&exporter, &summary.manifest_key).await).unwrap();
    assert!(
        manifest
            .files
            .iter()
            .all(|f| !f.path.starts_with(".claude_data")),
        "the agent's state is not something the user sees"
    );

    // Host B had an older copy of the session's workspace.
    let host_b = tempfile::tempdir().unwrap();
    let b = host_b.path().join("workspace");
    std::fs::create_dir_all(&b).unwrap();
    std::fs::write(b.join("stale.txt"), "old").unwrap();
    let source = RestoreSource {
        session_id: session,
        run_id: run,
        manifest_key: &summary.manifest_key,
        needs_agent_state: true,
    };
    let restored = exporter.restore(&b, source).await.expect("restore");
    assert_eq!(restored.files, 3);
    assert_eq!(restored.agent_files, 2);
    assert_eq!(restored.bytes, 3 + 12 + big.len() as u64);
    let got: Vec<String> = tree(&b).into_iter().map(|(p, _)| p).collect();
    assert_eq!(
        got,
        vec![
            ".claude_data/projects/-workspace/conv-1.jsonl",
            ".claude_data/projects/-workspace/conv-1/agent-1.jsonl",
            "a.txt",
            "big.bin",
            "src/deep/lib.rs",
        ]
    );
    assert_eq!(std::fs::read(b.join("big.bin")).unwrap(), big);
    assert_eq!(
        std::fs::read_to_string(b.join(".claude_data/projects/-workspace/conv-1.jsonl")).unwrap(),
        "{\"type\":\"user\"}\n"
    );
    assert!(!host_b.path().join("workspace.restore").exists());

    // A second restore over the first gives the same tree (idempotent).
    exporter.restore(&b, source).await.expect("again");
    assert_eq!(tree(&b).len(), 5);
}

/// A corrupt or missing export fails the restore with what is wrong, and the host's copy stays
/// as it was: never a silent fresh start.
#[tokio::test]
async fn a_corrupt_or_missing_export_fails_the_restore_and_keeps_the_old_copy() {
    use executor_manager::export::restore::{RestoreError, RestoreSource};
    let s3 = S3Server::start().await;
    let exporter = Exporter::new(&settings(&s3, &s3.secret_key), true);
    let ws = tempfile::tempdir().unwrap();
    let a = ws.path().join("workspace");
    std::fs::create_dir_all(&a).unwrap();
    std::fs::write(a.join("a.txt"), "one").unwrap();
    std::fs::write(a.join("b.txt"), "two").unwrap();
    let (session, run) = (Uuid::new_v4(), Uuid::new_v4());
    let target = ExportTarget {
        user_id: Uuid::new_v4(),
        session_id: session,
        run_id: run,
    };
    let summary = exporter.export(&a, target).await.expect("export");
    let manifest: Manifest =
        serde_json::from_slice(&get(&exporter, &summary.manifest_key).await).unwrap();

    let other = tempfile::tempdir().unwrap();
    let b = other.path().join("workspace");
    std::fs::create_dir_all(&b).unwrap();
    std::fs::write(b.join("mine.txt"), "kept").unwrap();
    let source = RestoreSource {
        session_id: session,
        run_id: run,
        manifest_key: &summary.manifest_key,
        needs_agent_state: false,
    };

    // A file whose bytes changed in the store.
    let b_key = &manifest
        .files
        .iter()
        .find(|f| f.path == "b.txt")
        .unwrap()
        .key;
    exporter
        .bucket()
        .put(b_key, "text/plain", "TWO")
        .await
        .unwrap();
    let err = exporter.restore(&b, source).await.unwrap_err();
    assert!(matches!(err, RestoreError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("b.txt"), "{err}");
    assert!(!err.is_transient());
    assert_eq!(tree(&b), vec![("mine.txt".into(), b"kept".to_vec())]);

    // A file object gone.
    exporter.bucket().delete(b_key).await.unwrap();
    let err = exporter.restore(&b, source).await.unwrap_err();
    assert!(matches!(err, RestoreError::Missing { .. }), "{err}");
    assert_eq!(tree(&b).len(), 1);

    // A conversation to resume, but no agent state (an export from before it was kept).
    exporter
        .bucket()
        .put(b_key, "text/plain", "two")
        .await
        .unwrap();
    exporter
        .bucket()
        .delete(&objstore::keys::agent_manifest_key(session, run))
        .await
        .unwrap();
    let needs = RestoreSource {
        needs_agent_state: true,
        ..source
    };
    let err = exporter.restore(&b, needs).await.unwrap_err();
    assert!(err.to_string().contains("agent state"), "{err}");
    assert_eq!(tree(&b).len(), 1);
    // Without a conversation to resume, the same export restores.
    exporter.restore(&b, source).await.expect("restore");
    assert_eq!(tree(&b).len(), 2);

    // A manifest key outside the session is refused before anything is read.
    let foreign = format!("workspaces/{}/runs/{run}/manifest.json", Uuid::new_v4());
    let err = exporter
        .restore(
            &b,
            RestoreSource {
                manifest_key: &foreign,
                ..source
            },
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("outside the session"), "{err}");
}
