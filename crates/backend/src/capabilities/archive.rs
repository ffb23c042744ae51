//! Reading an uploaded skill: a zip or a tar.gz of one folder, into a list of plain files.
//!
//! Everything is decided in memory before anything is stored:
//! - sizes are capped: the upload ([`MAX_ARCHIVE_BYTES`], by the caller), the bytes actually
//!   decompressed ([`MAX_SKILL_BYTES`] for the files, whatever the headers declare) and the
//!   number of entries ([`MAX_ENTRIES`]) and files ([`MAX_FILES`]);
//! - only regular files and directories are accepted: symbolic links, hard links, devices and
//!   FIFOs are refused, never skipped (an archive that needs them is not what its author thinks
//!   it is);
//! - every name is relative and plain: no absolute path, no `..`, no backslash, no empty
//!   segment, each segment of ASCII letters, digits and `._-` (names that are safe as object
//!   keys, in URLs and on every file system); a leading `./` is dropped;
//! - a single top-level folder is stripped (the usual `my-skill/SKILL.md` layout), then a
//!   `SKILL.md` must be at the top.
//!
//! macOS's `__MACOSX/` resource forks and `.DS_Store` files are left out silently.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;

use protocol::ErrorCode;

use crate::error::ApiError;

/// The largest upload (the compressed archive).
pub const MAX_ARCHIVE_BYTES: u64 = 10 * 1024 * 1024;
/// The most bytes a skill's files may hold in all, uncompressed.
pub const MAX_SKILL_BYTES: u64 = 25 * 1024 * 1024;
/// The most files a skill may hold.
pub const MAX_FILES: usize = 500;
/// The most entries an archive may hold (files, directories, tar metadata).
pub const MAX_ENTRIES: usize = 2_000;
/// The longest file path inside a skill, in bytes.
pub const MAX_PATH_BYTES: usize = 255;
/// The deepest file path inside a skill, in segments.
pub const MAX_DEPTH: usize = 16;
/// The file every skill has at its top.
pub const SKILL_FILE: &str = "SKILL.md";

/// A file of a skill: its path inside the skill's folder (segments joined by `/`) and content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkillFile {
    pub path: String,
    pub content: Vec<u8>,
}

/// Why an archive is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ArchiveError {
    /// More bytes or entries than the caps allow: 413.
    #[error("{0}")]
    TooLarge(String),
    /// Not an acceptable skill archive: 422 `invalid_archive`.
    #[error("{0}")]
    Refused(String),
}

impl From<ArchiveError> for ApiError {
    fn from(e: ArchiveError) -> Self {
        match e {
            ArchiveError::TooLarge(message) => ApiError::TooLarge(message),
            ArchiveError::Refused(message) => ApiError::Unprocessable {
                code: ErrorCode::InvalidArchive,
                message,
            },
        }
    }
}

fn refused(message: impl Into<String>) -> ArchiveError {
    ArchiveError::Refused(message.into())
}

/// The files of the skill in `bytes` (a zip or a gzip-compressed tar), sorted by path.
pub fn read(bytes: &[u8]) -> Result<Vec<SkillFile>, ArchiveError> {
    let mut files = Collector::default();
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        read_zip(bytes, &mut files)?;
    } else if bytes.starts_with(&[0x1f, 0x8b]) {
        read_tar_gz(bytes, &mut files)?;
    } else {
        return Err(refused(
            "expected a zip or a tar.gz archive of the skill's folder",
        ));
    }
    files.finish()
}

fn read_zip(bytes: &[u8], files: &mut Collector) -> Result<(), ArchiveError> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|e| refused(format!("the zip archive cannot be read: {e}")))?;
    if zip.len() > MAX_ENTRIES {
        return Err(ArchiveError::TooLarge(format!(
            "the archive holds more than {MAX_ENTRIES} entries"
        )));
    }
    for i in 0..zip.len() {
        let mut entry = zip
            .by_index(i)
            .map_err(|e| refused(format!("entry {} cannot be read: {e}", i + 1)))?;
        let name = String::from_utf8(entry.name_raw().to_vec())
            .map_err(|_| refused(format!("entry {} has a name that is not UTF-8", i + 1)))?;
        if entry.is_symlink() {
            return Err(refused(format!(
                "`{}` is a symbolic link",
                printable(&name)
            )));
        }
        // A Unix mode of something else than a file or a directory (device, FIFO, socket).
        if let Some(mode) = entry.unix_mode() {
            let kind = mode & 0o170_000;
            if kind != 0 && kind != 0o100_000 && kind != 0o040_000 {
                return Err(refused(format!(
                    "`{}` is not a regular file or folder",
                    printable(&name)
                )));
            }
        }
        if entry.is_dir() {
            files.directory(&name)?;
        } else {
            let Some(path) = files.file_path(&name)? else {
                continue;
            };
            let declared = entry.size();
            let content = files.read_content(&path, &mut entry, declared)?;
            files.add(path, content)?;
        }
    }
    Ok(())
}

fn read_tar_gz(bytes: &[u8], files: &mut Collector) -> Result<(), ArchiveError> {
    // The whole decompressed stream is capped too: headers and padding of at most
    // MAX_ENTRIES entries on top of the files' bytes.
    let stream_cap = MAX_SKILL_BYTES + (MAX_ENTRIES as u64 + 2) * 3 * 512;
    let gz = flate2::read::MultiGzDecoder::new(bytes).take(stream_cap);
    let mut tar = tar::Archive::new(gz);
    let entries = tar
        .entries()
        .map_err(|e| refused(format!("the tar.gz archive cannot be read: {e}")))?;
    let mut count = 0usize;
    for entry in entries {
        let mut entry =
            entry.map_err(|e| refused(format!("the tar.gz archive cannot be read: {e}")))?;
        count += 1;
        if count > MAX_ENTRIES {
            return Err(ArchiveError::TooLarge(format!(
                "the archive holds more than {MAX_ENTRIES} entries"
            )));
        }
        let name = String::from_utf8(entry.path_bytes().into_owned())
            .map_err(|_| refused(format!("entry {count} has a name that is not UTF-8")))?;
        use tar::EntryType as T;
        match entry.header().entry_type() {
            T::Regular | T::Continuous => {
                let Some(path) = files.file_path(&name)? else {
                    continue;
                };
                let declared = entry.header().size().unwrap_or(u64::MAX);
                let content = files.read_content(&path, &mut entry, declared)?;
                files.add(path, content)?;
            }
            T::Directory => files.directory(&name)?,
            // pax global headers carry defaults, not files.
            T::XGlobalHeader => {}
            T::Symlink => {
                return Err(refused(format!(
                    "`{}` is a symbolic link",
                    printable(&name)
                )));
            }
            T::Link => return Err(refused(format!("`{}` is a hard link", printable(&name)))),
            T::Char | T::Block | T::Fifo => {
                return Err(refused(format!(
                    "`{}` is a device or a FIFO",
                    printable(&name)
                )));
            }
            other => {
                return Err(refused(format!(
                    "`{}` is a tar entry of type {:?}, not a regular file or folder",
                    printable(&name),
                    other
                )));
            }
        }
    }
    Ok(())
}

/// The entries read so far, with the running totals the caps apply to.
#[derive(Default)]
struct Collector {
    files: BTreeMap<String, Vec<u8>>,
    bytes: u64,
}

impl Collector {
    /// A directory entry: its name must be plain; it adds nothing (empty folders are dropped).
    fn directory(&mut self, raw: &str) -> Result<(), ArchiveError> {
        plain_path(raw).map(|_| ())
    }

    /// A file entry's path, or `None` for the junk that is left out.
    fn file_path(&mut self, raw: &str) -> Result<Option<String>, ArchiveError> {
        let Some(path) = plain_path(raw)? else {
            return Err(refused("an entry has an empty name"));
        };
        let junk = path.starts_with("__MACOSX/")
            || path == "__MACOSX"
            || path.rsplit('/').next() == Some(".DS_Store");
        if junk {
            return Ok(None);
        }
        if self.files.len() >= MAX_FILES {
            return Err(ArchiveError::TooLarge(format!(
                "a skill holds at most {MAX_FILES} files"
            )));
        }
        if self.files.contains_key(&path) {
            return Err(refused(format!("`{path}` is in the archive twice")));
        }
        Ok(Some(path))
    }

    /// Reads one file's content, never more than what is left of [`MAX_SKILL_BYTES`] (whatever
    /// `declared` says).
    fn read_content(
        &mut self,
        path: &str,
        reader: &mut impl Read,
        declared: u64,
    ) -> Result<Vec<u8>, ArchiveError> {
        let left = MAX_SKILL_BYTES - self.bytes;
        let too_large = || {
            ArchiveError::TooLarge(format!(
                "a skill's files hold at most {} MiB in all",
                MAX_SKILL_BYTES / (1024 * 1024)
            ))
        };
        if declared > left {
            return Err(too_large());
        }
        let mut content = Vec::with_capacity(usize::try_from(declared).unwrap_or(0));
        reader
            .take(left + 1)
            .read_to_end(&mut content)
            .map_err(|e| refused(format!("`{path}` cannot be read: {e}")))?;
        let n = content.len() as u64;
        if n > left {
            return Err(too_large());
        }
        self.bytes += n;
        Ok(content)
    }

    fn add(&mut self, path: String, content: Vec<u8>) -> Result<(), ArchiveError> {
        self.files.insert(path, content);
        Ok(())
    }

    /// Strips a single top-level folder, checks the layout, and requires `SKILL.md`.
    fn finish(self) -> Result<Vec<SkillFile>, ArchiveError> {
        let mut files = self.files;
        let first = |p: &str| p.split('/').next().unwrap_or_default().to_owned();
        let top: BTreeSet<String> = files.keys().map(|p| first(p)).collect();
        let nested = files.keys().all(|p| p.contains('/'));
        if top.len() == 1 && nested {
            files = files
                .into_iter()
                .map(|(p, c)| {
                    let rest = p.split_once('/').map(|(_, r)| r.to_owned()).unwrap_or(p);
                    (rest, c)
                })
                .collect();
        }
        // A path that is a file and a folder at once (`a` and `a/b`) cannot be staged.
        for path in files.keys() {
            let mut prefix = String::new();
            for segment in path.split('/') {
                if !prefix.is_empty() && files.contains_key(&prefix) {
                    return Err(refused(format!(
                        "`{prefix}` is a file and a folder at once"
                    )));
                }
                if !prefix.is_empty() {
                    prefix.push('/');
                }
                prefix.push_str(segment);
            }
        }
        if !files.contains_key(SKILL_FILE) {
            return Err(refused(format!(
                "no {SKILL_FILE} at the top of the skill's folder (an archive holds one folder, or the skill's files themselves)"
            )));
        }
        Ok(files
            .into_iter()
            .map(|(path, content)| SkillFile { path, content })
            .collect())
    }
}

/// Whether one path segment is plain: 1 to 100 ASCII letters, digits and `._-`, not `.` or
/// `..`.
fn plain_segment(segment: &str) -> bool {
    !segment.is_empty()
        && segment.len() <= 100
        && segment != "."
        && segment != ".."
        && segment
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

/// The plain relative path of an entry name (directories end with `/`; a leading `./` is
/// dropped), `None` for the archive's root itself (`./`).
fn plain_path(raw: &str) -> Result<Option<String>, ArchiveError> {
    let shown = printable(raw);
    if raw.starts_with('/') {
        return Err(refused(format!("`{shown}` is an absolute path")));
    }
    if raw.contains('\\') {
        return Err(refused(format!(
            "`{shown}` contains a backslash; paths use `/`"
        )));
    }
    let trimmed = raw.strip_suffix('/').unwrap_or(raw);
    let mut segments: Vec<&str> = trimmed.split('/').collect();
    while segments.first() == Some(&".") {
        segments.remove(0);
    }
    if segments.is_empty() || segments == [""] {
        return Ok(None);
    }
    if segments.contains(&"..") {
        return Err(refused(format!(
            "`{shown}` climbs out of the skill's folder (`..`)"
        )));
    }
    if let Some(bad) = segments.iter().find(|s| !plain_segment(s)) {
        return Err(refused(format!(
            "`{shown}`: `{}` is not a plain name (ASCII letters, digits and `._-`)",
            printable(bad)
        )));
    }
    let path = segments.join("/");
    if path.len() > MAX_PATH_BYTES || segments.len() > MAX_DEPTH {
        return Err(refused(format!(
            "`{shown}` is longer than {MAX_PATH_BYTES} bytes or deeper than {MAX_DEPTH} folders"
        )));
    }
    Ok(Some(path))
}

/// A name as messages show it: at most 120 characters, control characters replaced.
fn printable(raw: &str) -> String {
    let mut s: String = raw
        .chars()
        .take(120)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if raw.chars().count() > 120 {
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    pub fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default();
        for (name, body) in entries {
            if name.ends_with('/') {
                w.add_directory(*name, options).unwrap();
            } else {
                w.start_file(*name, options).unwrap();
                w.write_all(body).unwrap();
            }
        }
        w.finish().unwrap().into_inner()
    }

    fn tar_gz_of(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        build(&mut b);
        let tar = b.into_inner().unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar).unwrap();
        gz.finish().unwrap()
    }

    fn file(b: &mut tar::Builder<Vec<u8>>, path: &str, body: &[u8]) {
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        // Bypass the builder's own path checks: the test writes what an attacker would.
        let name = &mut h.as_old_mut().name;
        name[..path.len()].copy_from_slice(path.as_bytes());
        h.set_cksum();
        b.append(&h, body).unwrap();
    }

    const SKILL: &[u8] = b"---\nname: s\ndescription: d\n---\nbody\n";

    fn paths(files: &[SkillFile]) -> Vec<&str> {
        files.iter().map(|f| f.path.as_str()).collect()
    }

    #[test]
    fn a_zip_with_one_folder_is_stripped() {
        let z = zip_of(&[
            ("s/", b""),
            ("s/SKILL.md", SKILL),
            ("s/scripts/run.py", b"print(1)"),
            ("__MACOSX/s/._SKILL.md", b"junk"),
            ("s/.DS_Store", b"junk"),
        ]);
        let files = read(&z).unwrap();
        assert_eq!(paths(&files), ["SKILL.md", "scripts/run.py"]);
        assert_eq!(files[1].content, b"print(1)");
    }

    #[test]
    fn a_tar_gz_at_its_root_is_read() {
        let t = tar_gz_of(|b| {
            file(b, "./SKILL.md", SKILL);
            file(b, "./ref/a_b.txt", b"x");
        });
        assert_eq!(paths(&read(&t).unwrap()), ["SKILL.md", "ref/a_b.txt"]);
    }

    #[test]
    fn hostile_names_are_refused() {
        for name in [
            "../SKILL.md",
            "s/../../etc/passwd",
            "/etc/passwd",
            "s\\x",
            "s//x",
            "s/ü.txt",
            "s/a:b",
            "s/a b",
            "s/a+b",
        ] {
            let z = zip_of(&[("SKILL.md", SKILL), (name, b"x")]);
            assert!(
                matches!(read(&z), Err(ArchiveError::Refused(_))),
                "zip {name}"
            );
            let t = tar_gz_of(|b| {
                file(b, "SKILL.md", SKILL);
                file(b, name, b"x");
            });
            assert!(
                matches!(read(&t), Err(ArchiveError::Refused(_))),
                "tar {name}"
            );
        }
    }

    #[test]
    fn links_and_devices_are_refused() {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let o = zip::write::SimpleFileOptions::default();
        w.start_file("SKILL.md", o).unwrap();
        w.write_all(SKILL).unwrap();
        w.add_symlink("link", "/etc/passwd", o).unwrap();
        let z = w.finish().unwrap().into_inner();
        let err = read(&z).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");

        for (kind, word) in [
            (tar::EntryType::Symlink, "symbolic link"),
            (tar::EntryType::Link, "hard link"),
            (tar::EntryType::Char, "device"),
            (tar::EntryType::Fifo, "FIFO"),
        ] {
            let t = tar_gz_of(|b| {
                file(b, "SKILL.md", SKILL);
                let mut h = tar::Header::new_gnu();
                h.set_entry_type(kind);
                h.set_size(0);
                h.set_path("x").unwrap();
                if kind.is_symlink() || kind.is_hard_link() {
                    h.set_link_name("/etc/passwd").unwrap();
                }
                h.set_cksum();
                b.append(&h, &b""[..]).unwrap();
            });
            let err = read(&t).unwrap_err();
            assert!(err.to_string().contains(word), "{kind:?}: {err}");
        }
    }

    #[test]
    fn skill_md_is_required_at_the_top() {
        let z = zip_of(&[("a/SKILL.md", SKILL), ("b/x", b"x")]);
        assert!(read(&z).unwrap_err().to_string().contains("SKILL.md"));
        assert!(read(b"not an archive").is_err());
    }

    #[test]
    fn sizes_are_capped_by_what_is_read() {
        // Highly compressible: small archive, too many bytes once inflated.
        let big = vec![b'a'; (MAX_SKILL_BYTES + 1) as usize];
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let o = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        w.start_file("SKILL.md", o).unwrap();
        w.write_all(SKILL).unwrap();
        w.start_file("big", o).unwrap();
        w.write_all(&big).unwrap();
        let z = w.finish().unwrap().into_inner();
        assert!((z.len() as u64) < MAX_ARCHIVE_BYTES);
        assert!(matches!(read(&z), Err(ArchiveError::TooLarge(_))));

        let t = tar_gz_of(|b| {
            file(b, "SKILL.md", SKILL);
            file(b, "big", &big);
        });
        assert!(matches!(read(&t), Err(ArchiveError::TooLarge(_))));

        let many: Vec<(String, Vec<u8>)> =
            (0..=MAX_FILES).map(|i| (format!("f{i}"), vec![])).collect();
        let mut entries: Vec<(&str, &[u8])> = vec![("SKILL.md", SKILL)];
        entries.extend(many.iter().map(|(n, b)| (n.as_str(), b.as_slice())));
        assert!(matches!(
            read(&zip_of(&entries)),
            Err(ArchiveError::TooLarge(_))
        ));
    }

    #[test]
    fn duplicates_and_file_folder_clashes_are_refused() {
        let t = tar_gz_of(|b| {
            file(b, "SKILL.md", SKILL);
            file(b, "a", b"1");
            file(b, "a", b"2");
        });
        assert!(read(&t).unwrap_err().to_string().contains("twice"));
        let z = zip_of(&[("SKILL.md", SKILL), ("a", b"1"), ("a/b", b"2")]);
        assert!(
            read(&z)
                .unwrap_err()
                .to_string()
                .contains("file and a folder")
        );
    }
}
