//! Reading the workspace without being tricked by what a process in it does meanwhile.
//!
//! The workspace belongs to the agent, and a process it left running (in a warm container, or a
//! child process of the `process` runtime) may rename, replace or relink anything in it while
//! the export reads it. So nothing is ever opened by a path that could lead outside:
//!
//! - the root is opened with `O_NOFOLLOW | O_DIRECTORY`: a workspace that is a symbolic link
//!   fails the export ([`ExportError::UnsafeRoot`]);
//! - every directory and file below it is opened by its single name, relative to its parent's
//!   open descriptor, with `O_NOFOLLOW`: no symbolic link is followed, at any depth, and a
//!   directory replaced by a link between listing and opening is skipped;
//! - a file is opened once (`O_NONBLOCK`, so a FIFO swapped in cannot hang the export), checked
//!   with `fstat` on that handle (regular files only: symbolic links, FIFOs, sockets and devices
//!   are skipped, never opened as what they point to), and read once through that handle,
//!   exactly its `fstat`ed length: the same bytes feed its SHA-256, its `archive.zip` entry and
//!   (read back from the archive) its own object. A file that grew is cut at that length, one that
//!   shrank is left out with a warning, never a corrupt entry.
//!
//! Symbolic links are not exported at all (no manifest entry, no archive entry): the manifest
//! has no notion of a link, and a link's target means nothing outside the container.
//!
//! The walk lists each directory, sorts it so that full paths come out in byte order (the order
//! of `archive.zip`, which part copies of unchanged stretches rely on), and writes each file
//! into the archive as it goes.

use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags};
use rustix::io::Errno;
use sha2::{Digest, Sha256};

use super::zip::{AddError, Limits, ZipWriter};
use super::{ExportError, content_type, is_ignored};

/// Directories deeper than this are left out (with a warning): the walk holds one descriptor per
/// level, and no real project nests this deep.
pub const MAX_DEPTH: usize = 256;

/// A file read into the archive.
#[derive(Debug, Clone)]
pub struct ScannedFile {
    pub path: String,
    pub size: u64,
    pub sha256: String,
    pub content_type: String,
    /// Its entry in the archive (local header and data).
    pub span: (u64, u64),
    /// Where its data starts in the archive (it ends at `span.1`).
    pub data: u64,
}

/// The workspace as read: `archive.zip` (an anonymous temporary file) and its files, in path
/// order.
pub struct Snapshot {
    pub archive: File,
    pub archive_size: u64,
    pub files: Vec<ScannedFile>,
    /// Entries left out because they are not regular files or directories (links, FIFOs, ...).
    pub skipped_special: usize,
}

const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);
const FILE_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC)
    .union(OFlags::NONBLOCK)
    .union(OFlags::NOCTTY);

/// One directory being walked.
struct Frame {
    dir: OwnedFd,
    /// Its path in the workspace, with a trailing `/` (empty for the root).
    prefix: String,
    /// Its children still to visit, in reverse order (popped from the end).
    children: Vec<Child>,
    /// 0 for the root.
    depth: usize,
}

struct Child {
    name: String,
    is_dir: bool,
}

/// Errors a concurrent change in the workspace explains: the entry is skipped.
fn raced(e: Errno) -> bool {
    // Gone, replaced by a link (ELOOP from O_NOFOLLOW), by a non-directory, or by a special file
    // (ENXIO: a socket; ENODEV/ETXTBSY: devices and busy files).
    matches!(
        e,
        Errno::NOENT | Errno::LOOP | Errno::NOTDIR | Errno::NXIO | Errno::NODEV | Errno::TXTBSY
    )
}

fn io(e: Errno) -> ExportError {
    ExportError::Io(e.into())
}

/// Opens the workspace root: a directory, not a symbolic link.
fn open_root(root: &Path) -> Result<OwnedFd, ExportError> {
    rustix::fs::openat(rustix::fs::CWD, root, DIR_FLAGS, Mode::empty()).map_err(|e| match e {
        Errno::LOOP | Errno::NOTDIR => ExportError::UnsafeRoot(root.to_owned()),
        other => io(other),
    })
}

/// The children of `dir` worth visiting, sorted so that the walk yields paths in byte order.
fn list(
    dir: &OwnedFd,
    prefix: &str,
    ignore_dot_files: bool,
    skipped: &mut usize,
) -> Result<Vec<Child>, ExportError> {
    let mut out = Vec::new();
    let mut entries = Dir::read_from(dir).map_err(io)?;
    while let Some(entry) = entries.read() {
        let entry = entry.map_err(io)?;
        let raw = entry.file_name().to_bytes();
        if raw == b"." || raw == b".." {
            continue;
        }
        let Ok(name) = std::str::from_utf8(raw) else {
            tracing::warn!(dir = %prefix, name = %String::from_utf8_lossy(raw), "skipping a name that is not UTF-8");
            continue;
        };
        if is_ignored(name, ignore_dot_files) {
            continue;
        }
        let mut file_type = entry.file_type();
        if file_type == FileType::Unknown {
            // Some file systems do not fill in d_type: ask, without following a link.
            file_type = match rustix::fs::statat(dir.as_fd(), name, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(st) => FileType::from_raw_mode(st.st_mode),
                Err(e) if raced(e) => continue,
                Err(e) => return Err(io(e)),
            };
        }
        match file_type {
            FileType::Directory => out.push(Child {
                name: name.to_owned(),
                is_dir: true,
            }),
            FileType::RegularFile => out.push(Child {
                name: name.to_owned(),
                is_dir: false,
            }),
            _ => *skipped += 1,
        }
    }
    // A directory `d` sorts as `d/`: then `a.txt` < `a/...`, as the full paths do.
    let key = |c: &Child| {
        let mut k = c.name.as_bytes().to_vec();
        if c.is_dir {
            k.push(b'/');
        }
        k
    };
    out.sort_by_cached_key(key);
    out.reverse();
    Ok(out)
}

/// Reads every regular file under `root` that is not ignored into a new `archive.zip`; see the
/// module documentation.
pub fn snapshot(
    root: &Path,
    ignore_dot_files: bool,
    limits: Limits,
) -> Result<Snapshot, ExportError> {
    walk(open_root(root)?, ignore_dot_files, limits)
}

/// [`snapshot`] of the directory `below` (names, one per level) under `root`, every level opened
/// relative to the one above with `O_NOFOLLOW`: a level that is a symbolic link or not a
/// directory is refused ([`ExportError::UnsafeRoot`]), one that does not exist is `None`. Used
/// for the agent's state inside the workspace (`.claude_data/projects`), which the agent could
/// have replaced with a link.
pub fn snapshot_below(
    root: &Path,
    below: &[&str],
    limits: Limits,
) -> Result<Option<Snapshot>, ExportError> {
    let mut dir = open_root(root)?;
    for name in below {
        dir = match rustix::fs::openat(dir.as_fd(), *name, DIR_FLAGS, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => return Ok(None),
            Err(Errno::LOOP | Errno::NOTDIR) => {
                return Err(ExportError::UnsafeRoot(root.join(below.join("/"))));
            }
            Err(e) => return Err(io(e)),
        };
    }
    walk(dir, false, limits).map(Some)
}

fn walk(root_fd: OwnedFd, ignore_dot_files: bool, limits: Limits) -> Result<Snapshot, ExportError> {
    let mut zip = ZipWriter::new(tempfile::tempfile()?, limits);
    let mut files = Vec::new();
    let mut skipped = 0usize;
    let children = list(&root_fd, "", ignore_dot_files, &mut skipped)?;
    let mut stack = vec![Frame {
        dir: root_fd,
        prefix: String::new(),
        children,
        depth: 0,
    }];
    while let Some(frame) = stack.last_mut() {
        let Some(child) = frame.children.pop() else {
            stack.pop();
            continue;
        };
        let path = format!("{}{}", frame.prefix, child.name);
        if child.is_dir {
            if frame.depth + 1 > MAX_DEPTH {
                tracing::warn!(%path, "directory nested too deep; left out of the export");
                continue;
            }
            let dir = match rustix::fs::openat(
                frame.dir.as_fd(),
                child.name.as_str(),
                DIR_FLAGS,
                Mode::empty(),
            ) {
                Ok(d) => d,
                Err(e) if raced(e) => {
                    tracing::debug!(%path, error = %e, "directory changed during the export; skipped");
                    continue;
                }
                Err(e) => return Err(io(e)),
            };
            let prefix = format!("{path}/");
            let children = list(&dir, &prefix, ignore_dot_files, &mut skipped)?;
            let depth = frame.depth + 1;
            stack.push(Frame {
                dir,
                prefix,
                children,
                depth,
            });
            continue;
        }
        let fd = match rustix::fs::openat(
            frame.dir.as_fd(),
            child.name.as_str(),
            FILE_FLAGS,
            Mode::empty(),
        ) {
            Ok(f) => f,
            Err(e) if raced(e) => {
                tracing::debug!(%path, error = %e, "file changed during the export; skipped");
                continue;
            }
            Err(e) => return Err(io(e)),
        };
        let file = File::from(fd);
        // The handle, not the name, says what it is.
        let meta = file.metadata()?;
        if !meta.file_type().is_file() {
            skipped += 1;
            continue;
        }
        let size = meta.len();
        let mut sha = Sha256::new();
        match zip.add_file(&path, &file, size, &mut |chunk| sha.update(chunk)) {
            Ok(w) => files.push(ScannedFile {
                content_type: content_type(&path).to_owned(),
                sha256: hex::encode(sha.finalize()),
                size,
                span: (w.start, w.end),
                data: w.data,
                path,
            }),
            Err(AddError::Shrunk { read, expected }) => {
                tracing::warn!(%path, read, expected, "file shrank while it was exported; left out");
            }
            Err(AddError::Io(e)) => return Err(ExportError::Io(e)),
        }
    }
    if skipped > 0 {
        tracing::debug!(skipped, "left out symbolic links and special files");
    }
    let (archive, archive_size) = zip.finish()?;
    Ok(Snapshot {
        archive,
        archive_size,
        files,
        skipped_special: skipped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{FileExt, symlink};

    fn paths(root: &Path, dots: bool) -> Vec<String> {
        snapshot(root, dots, Limits::STANDARD)
            .unwrap()
            .files
            .into_iter()
            .map(|f| f.path)
            .collect()
    }

    #[test]
    fn scan_skips_ignored_and_dot_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("src/.cache")).unwrap();
        std::fs::create_dir_all(root.join(".git")).unwrap();
        std::fs::write(root.join("src/main.rs"), "fn main() {}").unwrap();
        std::fs::write(root.join("src/.cache/x"), "x").unwrap();
        std::fs::write(root.join(".git/config"), "x").unwrap();
        std::fs::write(root.join(".env"), "SECRET=1").unwrap();
        std::fs::write(root.join("a.md"), "# a").unwrap();
        assert_eq!(paths(root, true), vec!["a.md", "src/main.rs"]);
        assert_eq!(
            paths(root, false),
            vec![".env", "a.md", "src/.cache/x", "src/main.rs"]
        );
        let s = snapshot(root, true, Limits::STANDARD).unwrap();
        let f = &s.files[0];
        assert_eq!(f.size, 3);
        assert_eq!(f.content_type, "text/markdown; charset=utf-8");
        assert_eq!(f.sha256, hex::encode(Sha256::digest(b"# a")));
        let mut data = vec![0; 3];
        s.archive.read_exact_at(&mut data, f.data).unwrap();
        assert_eq!(data, b"# a");
        assert_eq!(f.span.1, f.data + 3);
    }

    #[test]
    fn paths_come_out_in_byte_order() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for p in [
            "a/b", "a.txt", "a-b/c", "a0", "B", "a/a/z", "a/a.z", "é", "a b",
        ] {
            let p = root.join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "x").unwrap();
        }
        let got = paths(root, true);
        let mut sorted = got.clone();
        sorted.sort();
        assert_eq!(got, sorted);
        assert_eq!(got.len(), 9);
    }

    #[test]
    fn links_and_special_files_are_never_followed() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "root:x:0:0").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join("ok.txt"), "ok").unwrap();
        symlink(outside.path().join("secret"), root.join("link.txt")).unwrap();
        symlink("/etc/passwd", root.join("passwd")).unwrap();
        symlink(outside.path(), root.join("elsewhere")).unwrap();
        symlink("ok.txt", root.join("inside-link")).unwrap();
        std::fs::create_dir(root.join("sub")).unwrap();
        symlink(outside.path(), root.join("sub/deeper")).unwrap();
        // A FIFO (opening it for reading would block without O_NONBLOCK) and a socket.
        let fifo = std::process::Command::new("mkfifo")
            .arg(root.join("fifo"))
            .status()
            .unwrap();
        assert!(fifo.success());
        let _sock = std::os::unix::net::UnixListener::bind(root.join("sock")).unwrap();

        let s = snapshot(root, true, Limits::STANDARD).unwrap();
        let got: Vec<&str> = s.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(got, vec!["ok.txt"]);
        assert_eq!(s.skipped_special, 7);
        let mut archive = Vec::new();
        let mut f = s.archive.try_clone().unwrap();
        std::io::Seek::seek(&mut f, std::io::SeekFrom::Start(0)).unwrap();
        std::io::Read::read_to_end(&mut f, &mut archive).unwrap();
        assert!(!archive.windows(10).any(|w| w == b"root:x:0:0"));

        // A workspace root that is a link fails the export, whatever it points to.
        let link_root = outside.path().join("ws-link");
        symlink(root, &link_root).unwrap();
        let err = snapshot(&link_root, true, Limits::STANDARD).err().unwrap();
        assert!(matches!(err, ExportError::UnsafeRoot(_)), "{err}");
        assert!(err.to_string().contains("symbolic link"), "{err}");
        // So does a file in place of the root.
        let err = snapshot(&root.join("ok.txt"), true, Limits::STANDARD)
            .err()
            .unwrap();
        assert!(matches!(err, ExportError::UnsafeRoot(_)), "{err}");
    }

    /// What a process left running in the workspace does: swap a file for a link to a secret
    /// (and a directory for a link to another directory) as fast as it can, while exports run.
    #[test]
    fn a_file_swapped_for_a_link_during_the_walk_never_leaks() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
        let outside = tempfile::tempdir().unwrap();
        let secret = outside.path().join("passwd");
        std::fs::write(&secret, "root:x:0:0:secret").unwrap();
        std::fs::create_dir(outside.path().join("d")).unwrap();
        std::fs::write(outside.path().join("d/f"), "root:x:0:0:in a dir").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let stop = Arc::new(AtomicBool::new(false));
        let swaps = Arc::new(AtomicU64::new(0));
        let swapper = {
            let (root, stop, outside) = (root.clone(), stop.clone(), outside.path().to_path_buf());
            let swaps = swaps.clone();
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let _ = std::fs::remove_file(root.join("l.tmp"));
                    symlink(&secret, root.join("l.tmp")).unwrap();
                    std::fs::rename(root.join("l.tmp"), root.join("report.txt")).unwrap();
                    std::fs::write(root.join("f.tmp"), "hi\n").unwrap();
                    std::fs::rename(root.join("f.tmp"), root.join("report.txt")).unwrap();
                    // A directory in place of a link to a directory outside, and back.
                    let _ = std::fs::remove_file(root.join("sub"));
                    let _ = std::fs::create_dir(root.join("sub"));
                    let _ = std::fs::write(root.join("sub/f"), "ok");
                    let _ = std::fs::remove_dir_all(root.join("sub"));
                    let _ = symlink(outside.join("d"), root.join("sub"));
                    swaps.fetch_add(1, Ordering::Relaxed);
                }
            })
        };
        let (mut as_file, mut as_nothing) = (0, 0);
        let started = std::time::Instant::now();
        // At least 300 exports during at least 1,000 swaps (the machine may be busy).
        while (as_file + as_nothing < 300 || swaps.load(Ordering::Relaxed) < 1000)
            && started.elapsed() < std::time::Duration::from_secs(60)
        {
            let s = snapshot(&root, true, Limits::STANDARD).unwrap();
            let mut archive = Vec::new();
            let mut f = s.archive.try_clone().unwrap();
            std::io::Seek::seek(&mut f, std::io::SeekFrom::Start(0)).unwrap();
            std::io::Read::read_to_end(&mut f, &mut archive).unwrap();
            assert!(
                !archive.windows(10).any(|w| w == b"root:x:0:0"),
                "the secret is in the archive"
            );
            match s.files.iter().find(|f| f.path == "report.txt") {
                Some(r) => {
                    assert_eq!(r.sha256, hex::encode(Sha256::digest(b"hi\n")));
                    as_file += 1;
                }
                None => as_nothing += 1,
            }
        }
        stop.store(true, Ordering::Relaxed);
        swapper.join().unwrap();
        let swaps = swaps.load(Ordering::Relaxed);
        assert!(swaps >= 1000, "the swapper hardly ran ({swaps} swaps)");
        // Both states were met, so the walk did race the swapper.
        assert!(as_file > 0 && as_nothing > 0, "{as_file} / {as_nothing}");
    }
}
