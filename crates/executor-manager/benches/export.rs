//! Workspace export to a real S3 server (s3s-fs, `S3S_FS_BIN`): a workspace of 1,000 files and
//! 200 MB (random, incompressible content), exported once, then again after one file changed,
//! then again with nothing changed. Prints, for each export, the time, the bytes uploaded (files
//! and `archive.zip` separately) and the objects written.
//!
//! ```sh
//! cargo bench -p executor-manager --bench export
//! BENCH_SMOKE=1 cargo test -p executor-manager --bench export -- --bench   # small sizes
//! BENCH_ZIP64=1 cargo bench -p executor-manager --bench export   # opt-in ZIP64 case (below)
//! ```
//!
//! `BENCH_ZIP64=1` instead exports a workspace that needs ZIP64 on every count: a 5 GiB sparse
//! file (an entry over 4 GiB, and entries after it at offsets over 4 GiB) and 70,000 small files
//! (more than 65,535 entries), then checks the stored archive with Info-ZIP's `unzip -t` and
//! Python's zipfile. It writes about 15 GB to disk (the archive's temporary file and the two
//! big objects in s3s-fs's directory) and is not part of the smoke run.
//!
//! Target: the re-export after one change uploads only that file (plus what every export writes:
//! `manifest.json`, `latest.json` and `archive.zip`).
//!
//! Then a session's follow-up on the host that ran it (the `.workspace-run` marker read and the
//! decision made: nothing fetched) against one on another host (the last export restored into an
//! empty directory: the 1,000 files, 200 MB, and the agent's conversation file).

use std::path::Path;
use std::time::{Duration, Instant};

use executor_manager::config::S3Settings;
use executor_manager::export::{ExportSummary, ExportTarget, Exporter};
use protocol::files::{Manifest, ManifestChange as Change};
use rand::RngCore;
use test_support::s3::{self, S3Server};
use uuid::Uuid;

struct Figures {
    label: &'static str,
    elapsed: Duration,
    summary: ExportSummary,
    archive_bytes: u64,
    /// Bytes of added or modified files (uploaded as objects of their own).
    file_bytes: u64,
    objects: usize,
}

/// Objects under `prefix` (paginated listing).
async fn count_objects(exporter: &Exporter, prefix: &str) -> usize {
    exporter
        .bucket()
        .list(prefix)
        .await
        .expect("list objects")
        .len()
}

async fn manifest(exporter: &Exporter, key: &str) -> Manifest {
    exporter
        .bucket()
        .get_json(key, u64::MAX)
        .await
        .expect("get manifest")
        .expect("manifest.json exists")
}

async fn archive_size(exporter: &Exporter, key: &str) -> u64 {
    exporter
        .bucket()
        .head(key)
        .await
        .expect("head archive")
        .expect("archive exists")
        .size
}

async fn export(
    exporter: &Exporter,
    workspace: &Path,
    label: &'static str,
    user: Uuid,
    session: Uuid,
) -> Figures {
    let target = ExportTarget {
        user_id: user,
        session_id: session,
        run_id: Uuid::new_v4(),
    };
    let started = Instant::now();
    let summary = exporter.export(workspace, target).await.expect("export");
    let elapsed = started.elapsed();
    let run_prefix = objstore::keys::run_prefix(session, target.run_id);
    // This run's objects, plus latest.json, which every export rewrites.
    let objects = count_objects(exporter, &run_prefix).await + 1;
    let archive_bytes = archive_size(exporter, &summary.archive_key).await;
    let file_bytes = manifest(exporter, &summary.manifest_key)
        .await
        .files
        .iter()
        .filter(|f| f.change != Change::Unchanged)
        .map(|f| f.size)
        .sum();
    Figures {
        label,
        elapsed,
        summary,
        archive_bytes,
        file_bytes,
        objects,
    }
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1_000_000.0
}

fn print(f: &Figures) {
    let s = &f.summary;
    println!(
        "{:<28} {:>6.2} s  uploaded {:>8.3} MB: files {:>4} ({:>8.3} MB), archive.zip {:>7.3} of {:>6.1} MB  \
         objects written {:>4}  [added {} modified {} unchanged {}]",
        f.label,
        f.elapsed.as_secs_f64(),
        mb(s.uploaded_bytes),
        s.added + s.modified,
        mb(f.file_bytes),
        mb(s.uploaded_bytes - f.file_bytes),
        mb(f.archive_bytes),
        f.objects,
        s.added,
        s.modified,
        s.unchanged,
    );
}

#[tokio::main]
async fn main() {
    // `cargo test --benches` runs bench binaries without `--bench`: nothing to do then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let smoke = test_support::bench::smoke();
    if std::env::var("BENCH_ZIP64").is_ok_and(|v| v == "1") {
        return zip64_case().await;
    }
    let (files, total): (usize, usize) = if smoke {
        // Above the multipart threshold, so the archive's copy path runs too.
        (50, 20_000_000)
    } else {
        (1_000, 200_000_000)
    };
    let per_file = total / files;

    let server = S3Server::start().await;
    let exporter = exporter_for(&server);

    let ws = tempfile::tempdir().expect("workspace");
    let mut rng = rand::rng();
    let mut buf = vec![0u8; per_file];
    for i in 0..files {
        let dir = ws.path().join(format!("dir{:02}", i % 20));
        std::fs::create_dir_all(&dir).unwrap();
        rng.fill_bytes(&mut buf);
        std::fs::write(dir.join(format!("file{i:04}.bin")), &buf).unwrap();
    }
    // The agent's conversation, as the CLI leaves it (exported beside the manifest).
    let conversation = ws.path().join(".claude_data/projects/-workspace");
    std::fs::create_dir_all(&conversation).unwrap();
    std::fs::write(
        conversation.join("conversation.jsonl"),
        "{\"type\":\"user\"}\n".repeat(2_000),
    )
    .unwrap();
    println!(
        "workspace export to s3s-fs: {files} files, {:.1} MB ({} bytes each){}",
        mb((per_file * files) as u64),
        per_file,
        if smoke { " [smoke]" } else { "" }
    );

    let (user, session) = (Uuid::new_v4(), Uuid::new_v4());
    let first = export(&exporter, ws.path(), "first export", user, session).await;
    print(&first);

    // One file changes (same size, new content).
    rng.fill_bytes(&mut buf);
    std::fs::write(ws.path().join("dir07/file0007.bin"), &buf).unwrap();
    let second = export(
        &exporter,
        ws.path(),
        "re-export, one file changed",
        user,
        session,
    )
    .await;
    print(&second);

    let third = export(
        &exporter,
        ws.path(),
        "re-export, nothing changed",
        user,
        session,
    )
    .await;
    print(&third);

    // The target, checked: the second export uploaded the changed file as the only file object,
    // and of the archive only what is not a copy of the previous one (the changed entry padded
    // to S3's 5 MiB minimum part, and the central directory).
    let s2 = &second.summary;
    assert_eq!(
        (s2.added, s2.modified, s2.unchanged),
        (0, 1, files - 1),
        "{s2:?}"
    );
    assert_eq!(second.file_bytes, per_file as u64);
    // The changed file, archive.zip, manifest.json, latest.json, and the agent's state
    // (agent.zip, agent.json).
    assert_eq!(second.objects, 6);
    let archive_sent = s2.uploaded_bytes - second.file_bytes;
    assert!(
        archive_sent < 6 * 1024 * 1024 + per_file as u64,
        "archive bytes sent: {archive_sent}"
    );
    // The archive assembled from copies is whole: every entry, every CRC (Python's zipfile).
    for f in [&second, &third] {
        let body = exporter
            .bucket()
            .get(&f.summary.archive_key, u64::MAX)
            .await
            .expect("get archive")
            .expect("archive exists");
        let path = ws.path().join(".check.zip");
        std::fs::write(&path, &body).unwrap();
        let out = std::process::Command::new("python3")
            .arg("-c")
            .arg("import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None; print(len(z.namelist()))")
            .arg(&path)
            .output()
            .expect("python3");
        std::fs::remove_file(&path).unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            files.to_string()
        );
    }
    println!(
        "second export: {:.3} MB sent of a {:.1} MB workspace (the changed file {:.3} MB, archive.zip {:.3} MB)",
        mb(s2.uploaded_bytes),
        mb((per_file * files) as u64),
        mb(second.file_bytes),
        mb(archive_sent)
    );

    restore_case(&exporter, ws.path(), &third, session, files, smoke).await;
}

/// A session's follow-up on the host that ran it (the marker says the workspace is the source
/// run's: nothing to fetch) against one on another host (the whole workspace restored from the
/// export: every file of the manifest and the agent's conversation).
async fn restore_case(
    exporter: &Exporter,
    workspace: &Path,
    last: &Figures,
    session: Uuid,
    files: usize,
    smoke: bool,
) {
    use executor_manager::export::restore::RestoreSource;
    use executor_manager::workspace_sync::{self, Mark, MarkState, Plan};
    let run_id = last
        .summary
        .manifest_key
        .split('/')
        .nth(3)
        .unwrap()
        .parse()
        .unwrap();
    let source = protocol::internal::WorkspaceSource {
        run_id,
        worker_id: Some("host-a".into()),
        manifest_key: Some(last.summary.manifest_key.clone()),
    };

    // Same host: read the marker, decide.
    let session_dir = workspace
        .parent()
        .unwrap()
        .join(format!("same-host-{session}"));
    std::fs::create_dir_all(&session_dir).unwrap();
    let done = Mark {
        run_id,
        state: MarkState::Done,
    };
    workspace_sync::write(&session_dir, done).await.unwrap();
    let rounds = if smoke { 10 } else { 1_000 };
    let mut same = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let t = Instant::now();
        let mark = workspace_sync::read(&session_dir).await;
        let plan = workspace_sync::plan(Some(&source), mark, true, true, "host-a");
        same.push(t.elapsed());
        assert_eq!(plan, Plan::Local);
    }
    same.sort();
    println!(
        "follow-up on the same host: marker read + decision p50 {:.1} µs, p99 {:.1} µs ({rounds} rounds); nothing fetched",
        same[rounds / 2].as_secs_f64() * 1e6,
        same[rounds * 99 / 100].as_secs_f64() * 1e6,
    );

    // Another host: the export restored into a fresh directory, a few times.
    let tries = if smoke { 1 } else { 3 };
    let mut times = Vec::new();
    for i in 0..tries {
        let host_b = tempfile::tempdir().expect("host b");
        let target = host_b.path().join("workspace");
        let t = Instant::now();
        let restored = exporter
            .restore(
                &target,
                RestoreSource {
                    session_id: session,
                    run_id,
                    manifest_key: &last.summary.manifest_key,
                    needs_agent_state: true,
                },
            )
            .await
            .expect("restore");
        let elapsed = t.elapsed();
        assert_eq!(restored.files, files);
        assert_eq!(restored.agent_files, 1);
        println!(
            "follow-up on another host, restore {}: {:.2} s for {} files, {:.1} MB ({:.0} MB/s) + {} conversation file",
            i + 1,
            elapsed.as_secs_f64(),
            restored.files,
            mb(restored.bytes),
            mb(restored.bytes) / elapsed.as_secs_f64(),
            restored.agent_files,
        );
        times.push(elapsed);
    }
    times.sort();
    println!(
        "restore median {:.2} s ({} tries)",
        times[times.len() / 2].as_secs_f64(),
        tries
    );
}

/// An exporter writing to `server`'s bucket.
fn exporter_for(server: &S3Server) -> Exporter {
    Exporter::new(
        &S3Settings {
            endpoint: server.endpoint.clone(),
            public_endpoint: None,
            access_key: server.access_key.clone().into(),
            secret_key: server.secret_key.clone().into(),
            bucket: s3::BUCKET.into(),
            region: "us-east-1".into(),
            force_path_style: true,
        },
        true,
    )
}

/// The opt-in ZIP64 case; see the module documentation.
async fn zip64_case() {
    const BIG: u64 = 5 * 1024 * 1024 * 1024;
    const SMALL: usize = 70_000;
    let server = S3Server::start().await;
    let exporter = exporter_for(&server);
    let ws = tempfile::tempdir().expect("workspace");
    // `a-big.bin` sorts first: every small entry lies beyond 4 GiB in the archive.
    let big = std::fs::File::create(ws.path().join("a-big.bin")).unwrap();
    big.set_len(BIG).unwrap();
    std::os::unix::fs::FileExt::write_all_at(&big, b"the end", BIG - 7).unwrap();
    drop(big);
    for i in 0..SMALL {
        let dir = ws.path().join(format!("d{:03}", i % 500));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("f{i:05}.txt")), format!("file {i}\n")).unwrap();
    }
    println!(
        "ZIP64 case: one {} GiB sparse file and {SMALL} small files",
        BIG >> 30
    );
    let (user, session) = (Uuid::new_v4(), Uuid::new_v4());
    let f = export(&exporter, ws.path(), "ZIP64 export", user, session).await;
    print(&f);
    assert_eq!(f.summary.files, SMALL + 1);

    // The stored archive, straight from s3s-fs's directory (not 5 GB through memory).
    let path = server.root().join(s3::BUCKET).join(&f.summary.archive_key);
    let started = Instant::now();
    let out = std::process::Command::new("unzip")
        .arg("-tq")
        .arg(&path)
        .output()
        .expect("unzip");
    assert!(
        out.status.success(),
        "unzip -t: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(
            "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); i = z.infolist(); \
             b = z.getinfo('a-big.bin'); f = z.open(b); f.seek(b.file_size - 7); \
             assert f.read() == b'the end'; \
             assert z.read('d123/f00123.txt') == b'file 123\\n'; \
             print(len(i), b.file_size, i[-1].header_offset)",
        )
        .arg(&path)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8_lossy(&out.stdout);
    let fields: Vec<u64> = printed
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    assert_eq!(fields[0], SMALL as u64 + 1);
    assert_eq!(fields[1], BIG);
    assert!(fields[2] > u32::MAX as u64, "{printed}");
    println!(
        "archive checked by unzip -t and Python's zipfile in {:.1} s: {} entries, last at offset {}",
        started.elapsed().as_secs_f64(),
        fields[0],
        fields[2]
    );
}
