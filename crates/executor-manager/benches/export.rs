//! Workspace export to a real S3 server (s3s-fs, `S3S_FS_BIN`): a workspace of 1,000 files and
//! 200 MB (random, incompressible content), exported once, then again after one file changed,
//! then again with nothing changed. Prints, for each export, the time, the bytes uploaded (files
//! and `archive.zip` separately) and the objects written.
//!
//! ```sh
//! cargo bench -p executor-manager --bench export
//! BENCH_SMOKE=1 cargo test -p executor-manager --bench export -- --bench   # small sizes
//! ```
//!
//! Target: the re-export after one change uploads only that file (plus what every export writes:
//! `manifest.json`, `latest.json` and `archive.zip`).

#[allow(dead_code)]
#[path = "../tests/common/s3.rs"]
mod s3;

use std::path::Path;
use std::time::{Duration, Instant};

use executor_manager::config::S3Settings;
use executor_manager::export::{ExportSummary, ExportTarget, Exporter};
use rand::RngCore;
use uuid::Uuid;

struct Figures {
    label: &'static str,
    elapsed: Duration,
    summary: ExportSummary,
    archive_bytes: u64,
    objects: usize,
}

/// Objects under `prefix` (paginated listing).
async fn count_objects(exporter: &Exporter, prefix: &str) -> usize {
    let mut count = 0;
    let mut token: Option<String> = None;
    loop {
        let out = exporter
            .client()
            .list_objects_v2()
            .bucket(s3::BUCKET)
            .prefix(prefix)
            .set_continuation_token(token.clone())
            .send()
            .await
            .expect("list objects");
        count += out.contents().len();
        match out.next_continuation_token() {
            Some(t) if out.is_truncated() == Some(true) => token = Some(t.to_owned()),
            _ => return count,
        }
    }
}

async fn archive_size(exporter: &Exporter, key: &str) -> u64 {
    let head = exporter
        .client()
        .head_object()
        .bucket(s3::BUCKET)
        .key(key)
        .send()
        .await
        .expect("head archive");
    head.content_length().unwrap_or(0) as u64
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
    let run_prefix = format!("workspaces/{session}/runs/{}/", target.run_id);
    // This run's objects, plus latest.json, which every export rewrites.
    let objects = count_objects(exporter, &run_prefix).await + 1;
    let archive_bytes = archive_size(exporter, &summary.archive_key).await;
    Figures {
        label,
        elapsed,
        summary,
        archive_bytes,
        objects,
    }
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1_000_000.0
}

fn print(f: &Figures) {
    let s = &f.summary;
    let file_bytes = s.uploaded_bytes - f.archive_bytes;
    println!(
        "{:<28} {:>8.2} s  files uploaded {:>4} ({:>8.3} MB)  archive.zip {:>7.1} MB  objects written {:>4}  \
         [added {} modified {} unchanged {}]",
        f.label,
        f.elapsed.as_secs_f64(),
        s.added + s.modified,
        mb(file_bytes),
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
    let smoke = std::env::var("BENCH_SMOKE").is_ok_and(|v| v == "1");
    let (files, total): (usize, usize) = if smoke {
        (50, 5_000_000)
    } else {
        (1_000, 200_000_000)
    };
    let per_file = total / files;

    let server = s3::s3s_fs().await;
    let exporter = Exporter::new(
        &S3Settings {
            endpoint: server.endpoint.clone(),
            access_key: "test-access".into(),
            secret_key: "test-secret".into(),
            bucket: s3::BUCKET.into(),
            region: "us-east-1".into(),
            force_path_style: true,
        },
        true,
    );

    let ws = tempfile::tempdir().expect("workspace");
    let mut rng = rand::rng();
    let mut buf = vec![0u8; per_file];
    for i in 0..files {
        let dir = ws.path().join(format!("dir{:02}", i % 20));
        std::fs::create_dir_all(&dir).unwrap();
        rng.fill_bytes(&mut buf);
        std::fs::write(dir.join(format!("file{i:04}.bin")), &buf).unwrap();
    }
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

    // The target, checked: the second export uploaded exactly the changed file.
    let s = &second.summary;
    assert_eq!(
        (s.added, s.modified, s.unchanged),
        (0, 1, files - 1),
        "{s:?}"
    );
    assert_eq!(s.uploaded_bytes - second.archive_bytes, per_file as u64);
    // The changed file, archive.zip, manifest.json, latest.json.
    assert_eq!(second.objects, 4);
    assert_eq!(third.summary.uploaded_bytes, third.archive_bytes);
    println!(
        "target (second export uploads only the changed file): met for the files ({} of {} bytes); \
         archive.zip ({:.1} MB) is rewritten by every export",
        per_file,
        per_file * files,
        mb(second.archive_bytes)
    );
}
