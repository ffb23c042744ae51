//! Zip archives in tests: read back with an independent reader (Python's `zipfile`), as tests of
//! the archive writer's output do, and written (deflated) as a user uploads a skill folder.

use std::io::Write;

/// A zip of a folder named `folder` holding `files` (paths relative to the folder), deflated:
/// what a user uploads as a skill.
pub fn folder(folder: &str, files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (path, body) in files {
        w.start_file(format!("{folder}/{path}"), options)
            .expect("zip entry");
        w.write_all(body).expect("zip write");
    }
    w.finish().expect("zip").into_inner()
}

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

#[cfg(test)]
mod tests {
    #[test]
    fn a_folder_zip_reads_back() {
        let zip = super::folder("skill", &[("SKILL.md", b"x"), ("scripts/run.sh", b"y")]);
        assert_eq!(
            super::names(&zip),
            vec!["skill/SKILL.md", "skill/scripts/run.sh"]
        );
    }
}
