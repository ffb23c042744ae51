//! Reading a zip archive back with an independent reader (Python's `zipfile`), as tests of the
//! archive writer's output do.

/// The names inside the zip `bytes`, sorted, after Python's `zipfile` checked every entry's CRC.
pub fn names(bytes: &[u8]) -> Vec<String> {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("a.zip");
    std::fs::write(&path, bytes).expect("write the zip");
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg("import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None; print('\\n'.join(sorted(z.namelist())))")
        .arg(&path)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("names are UTF-8")
        .lines()
        .map(str::to_owned)
        .collect()
}
