//! `LOG_TO_FILE`: JSON lines in `LOG_DIR/<service>.<date>.log`, at most `LOG_BACKUP_COUNT` files
//! kept (older ones deleted at start-up and at each daily rotation). Its own test binary: the
//! subscriber is process-global.

use telemetry::LogSettings;

#[test]
fn log_files_are_json_with_spans_and_old_files_are_pruned() {
    let dir = tempfile::tempdir().unwrap();
    for day in 1..=5 {
        std::fs::write(dir.path().join(format!("svc.2026-01-0{day}.log")), "old\n").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let settings = LogSettings {
        log_to_file: true,
        log_dir: dir.path().display().to_string(),
        log_backup_count: 3,
        ..Default::default()
    };
    let guard = settings.init("svc").unwrap();
    {
        let span = tracing::info_span!("request", request_id = "rid-1");
        let _e = span.enter();
        let inner = tracing::info_span!("run", run_id = "run-1");
        let _i = inner.enter();
        tracing::info!(answer = 42, "hello from a test");
    }
    drop(guard);

    let mut files: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("svc."))
        .collect();
    files.sort();
    assert!(files.len() <= 3, "kept {files:?}");
    assert!(
        !files.contains(&"svc.2026-01-01.log".to_owned()),
        "{files:?}"
    );
    let today = files
        .iter()
        .map(|f| std::fs::read_to_string(dir.path().join(f)).unwrap())
        .find(|t| t.contains("hello from a test"))
        .expect("the line went to today's file");
    let line: serde_json::Value = serde_json::from_str(today.lines().last().unwrap()).unwrap();
    assert_eq!(line["message"], "hello from a test");
    assert_eq!(line["answer"], 42);
    assert_eq!(line["level"], "INFO");
    assert!(line["timestamp"].is_string());
    let spans = line["spans"].as_array().unwrap();
    assert_eq!(spans[0]["request_id"], "rid-1");
    assert_eq!(spans[1]["run_id"], "run-1");
}
