//! `archive.zip`: a streaming zip writer (method "stored") with a fixed local-header layout.
//!
//! Why fixed: the unchanged stretches of a new archive are copied inside the store from the
//! previous run's archive ([`super::parts`]), which is only correct if an unchanged file's bytes
//! in the archive are identical from one export to the next. So an entry's local header and data
//! depend on nothing but the entry's name, size and content: no time stamp (the date is always
//! 1980-01-01), no offset, no extra field, no data descriptor. The CRC, known only once the data
//! was read, is written into the header afterwards.
//!
//! ZIP64 (APPNOTE 4.5.3) only where plain zip cannot say it, so that the common case keeps the
//! plain layout:
//! - an entry of 4 GiB or more: version 4.5, both sizes `0xFFFFFFFF` in the local header and a
//!   ZIP64 extra field with the real sizes (a function of the size alone, so still the same
//!   bytes in the next export);
//! - an entry starting at 4 GiB or more: a ZIP64 extra field with the offset in its central
//!   directory record (the central directory is never copied);
//! - 65,535 entries or more, or a central directory at or beyond 4 GiB: the ZIP64 end of central
//!   directory record and its locator before the classic end record.
//!
//! The data is streamed from the open source file in chunks (never a whole file in memory),
//! through `crc32fast` and whatever the caller wants to see (the export's SHA-256).

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;

const LOCAL_SIG: u32 = 0x0403_4b50;
const CENTRAL_SIG: u32 = 0x0201_4b50;
const END_SIG: u32 = 0x0605_4b50;
const ZIP64_END_SIG: u32 = 0x0606_4b50;
const ZIP64_LOCATOR_SIG: u32 = 0x0706_4b50;
const ZIP64_EXTRA_ID: u16 = 0x0001;
/// Version 2.0: plain stored entries.
const VERSION_PLAIN: u16 = 20;
/// Version 4.5: ZIP64.
const VERSION_ZIP64: u16 = 45;
/// Made by: Unix (upper byte 3), spec version in the lower byte.
const MADE_BY_UNIX: u16 = 0x0300;
/// General purpose flags: bit 11, names are UTF-8.
const FLAG_UTF8: u16 = 0x0800;
/// MS-DOS date 1980-01-01 (time 00:00).
const FIXED_DATE: u16 = 0x0021;
/// Offset of the CRC-32 within a local header.
const LOCAL_CRC_OFFSET: u64 = 14;
/// Chunk size for streaming file data.
const CHUNK: usize = 1024 * 1024;

/// Where plain zip fields overflow and ZIP64 takes over. Only tests lower them (to exercise the
/// ZIP64 records with small archives); real archives use [`Limits::STANDARD`].
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Sizes and offsets at or above this need ZIP64 (`0xFFFFFFFF` is itself the escape value).
    pub max32: u64,
    /// Entry counts at or above this need ZIP64.
    pub max16: u64,
}

impl Limits {
    pub const STANDARD: Limits = Limits {
        max32: 0xFFFF_FFFF,
        max16: 0xFFFF,
    };
}

#[derive(Debug, thiserror::Error)]
pub enum AddError {
    /// The file ended before its `fstat`ed size: it shrank while being read. Nothing of it is
    /// left in the archive.
    #[error("the file shrank while it was read ({read} of {expected} bytes)")]
    Shrunk { read: u64, expected: u64 },
    /// Reading the source or writing the archive failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// One entry as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    /// Where its local header starts.
    pub start: u64,
    /// Where its data starts (its data is `data..end`).
    pub data: u64,
    /// Where its data ends.
    pub end: u64,
    pub crc: u32,
}

struct CentralEntry {
    name: String,
    crc: u32,
    size: u64,
    offset: u64,
}

/// Writes a zip into `out` (from its start), one entry after the other, then the central
/// directory at [`ZipWriter::finish`].
pub struct ZipWriter {
    out: BufWriter<File>,
    offset: u64,
    entries: Vec<CentralEntry>,
    limits: Limits,
    buf: Vec<u8>,
}

impl ZipWriter {
    pub fn new(out: File, limits: Limits) -> Self {
        Self {
            out: BufWriter::with_capacity(CHUNK, out),
            offset: 0,
            entries: Vec::new(),
            limits,
            buf: vec![0; CHUNK],
        }
    }

    fn zip64_size(&self, size: u64) -> bool {
        size >= self.limits.max32
    }

    /// The local header of an entry: a function of `name`, `size` and `crc` only.
    fn local_header(&self, name: &[u8], size: u64, crc: u32) -> Vec<u8> {
        let zip64 = self.zip64_size(size);
        let mut h = Vec::with_capacity(30 + name.len() + 20);
        h.extend_from_slice(&LOCAL_SIG.to_le_bytes());
        h.extend_from_slice(&(if zip64 { VERSION_ZIP64 } else { VERSION_PLAIN }).to_le_bytes());
        h.extend_from_slice(&FLAG_UTF8.to_le_bytes());
        h.extend_from_slice(&0u16.to_le_bytes()); // method: stored
        h.extend_from_slice(&0u16.to_le_bytes()); // time
        h.extend_from_slice(&FIXED_DATE.to_le_bytes());
        h.extend_from_slice(&crc.to_le_bytes());
        let size32 = if zip64 { u32::MAX } else { size as u32 };
        h.extend_from_slice(&size32.to_le_bytes()); // compressed
        h.extend_from_slice(&size32.to_le_bytes()); // uncompressed
        h.extend_from_slice(&(name.len() as u16).to_le_bytes());
        h.extend_from_slice(&(if zip64 { 20u16 } else { 0 }).to_le_bytes());
        h.extend_from_slice(name);
        if zip64 {
            h.extend_from_slice(&ZIP64_EXTRA_ID.to_le_bytes());
            h.extend_from_slice(&16u16.to_le_bytes());
            h.extend_from_slice(&size.to_le_bytes()); // uncompressed
            h.extend_from_slice(&size.to_le_bytes()); // compressed
        }
        h
    }

    /// Adds `name` with exactly `size` bytes of `src` (read from its start with `pread`, so the
    /// handle's offset does not matter), each chunk also passed to `observe`. A file that grew
    /// is cut at `size`; one that ended early is rolled back ([`AddError::Shrunk`]) and the
    /// writer stays usable.
    pub fn add_file(
        &mut self,
        name: &str,
        src: &File,
        size: u64,
        observe: &mut dyn FnMut(&[u8]),
    ) -> Result<Written, AddError> {
        let name_bytes = name.as_bytes();
        if name_bytes.len() > usize::from(u16::MAX) {
            return Err(AddError::Io(std::io::Error::other("name too long for zip")));
        }
        let start = self.offset;
        // The CRC is patched in once known.
        let header = self.local_header(name_bytes, size, 0);
        self.out.write_all(&header)?;
        let data = start + header.len() as u64;
        let mut crc = crc32fast::Hasher::new();
        let mut read = 0u64;
        while read < size {
            let want = (size - read).min(self.buf.len() as u64) as usize;
            let n = match src.read_at(&mut self.buf[..want], read) {
                Ok(0) => {
                    self.rollback(start)?;
                    return Err(AddError::Shrunk {
                        read,
                        expected: size,
                    });
                }
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.rollback(start)?;
                    return Err(AddError::Io(e));
                }
            };
            let chunk = &self.buf[..n];
            crc.update(chunk);
            observe(chunk);
            self.out.write_all(chunk)?;
            read += n as u64;
        }
        let crc = crc.finalize();
        self.out.flush()?;
        self.out
            .get_ref()
            .write_all_at(&crc.to_le_bytes(), start + LOCAL_CRC_OFFSET)?;
        let end = data + size;
        self.offset = end;
        self.entries.push(CentralEntry {
            name: name.to_owned(),
            crc,
            size,
            offset: start,
        });
        Ok(Written {
            start,
            data,
            end,
            crc,
        })
    }

    /// Drops everything written since `start`.
    fn rollback(&mut self, start: u64) -> std::io::Result<()> {
        self.out.flush()?;
        let f = self.out.get_mut();
        f.set_len(start)?;
        f.seek(SeekFrom::Start(start))?;
        self.offset = start;
        Ok(())
    }

    /// Writes the central directory and the end records; returns the archive file and its size.
    pub fn finish(mut self) -> std::io::Result<(File, u64)> {
        let cd_start = self.offset;
        let mut central = Vec::with_capacity(self.entries.len() * 80);
        for e in &self.entries {
            let big_size = self.zip64_size(e.size);
            let big_offset = e.offset >= self.limits.max32;
            let zip64 = big_size || big_offset;
            let mut extra = Vec::new();
            if zip64 {
                let len = if big_size { 16u16 } else { 0 } + if big_offset { 8 } else { 0 };
                extra.extend_from_slice(&ZIP64_EXTRA_ID.to_le_bytes());
                extra.extend_from_slice(&len.to_le_bytes());
                if big_size {
                    extra.extend_from_slice(&e.size.to_le_bytes()); // uncompressed
                    extra.extend_from_slice(&e.size.to_le_bytes()); // compressed
                }
                if big_offset {
                    extra.extend_from_slice(&e.offset.to_le_bytes());
                }
            }
            let version = if zip64 { VERSION_ZIP64 } else { VERSION_PLAIN };
            // Made by: Unix, spec 3.0 for plain entries (as before ZIP64 support), 4.5 else.
            let made_by = MADE_BY_UNIX | if zip64 { VERSION_ZIP64 } else { 30 };
            let size32 = if big_size { u32::MAX } else { e.size as u32 };
            let offset32 = if big_offset {
                u32::MAX
            } else {
                e.offset as u32
            };
            let name = e.name.as_bytes();
            central.extend_from_slice(&CENTRAL_SIG.to_le_bytes());
            central.extend_from_slice(&made_by.to_le_bytes());
            central.extend_from_slice(&version.to_le_bytes());
            central.extend_from_slice(&FLAG_UTF8.to_le_bytes());
            central.extend_from_slice(&0u16.to_le_bytes()); // stored
            central.extend_from_slice(&0u16.to_le_bytes()); // time
            central.extend_from_slice(&FIXED_DATE.to_le_bytes());
            central.extend_from_slice(&e.crc.to_le_bytes());
            central.extend_from_slice(&size32.to_le_bytes());
            central.extend_from_slice(&size32.to_le_bytes());
            central.extend_from_slice(&(name.len() as u16).to_le_bytes());
            central.extend_from_slice(&(extra.len() as u16).to_le_bytes());
            central.extend_from_slice(&0u16.to_le_bytes()); // comment
            central.extend_from_slice(&0u16.to_le_bytes()); // disk
            central.extend_from_slice(&0u16.to_le_bytes()); // internal attributes
            central.extend_from_slice(&(0o100644u32 << 16).to_le_bytes()); // external: -rw-r--r--
            central.extend_from_slice(&offset32.to_le_bytes());
            central.extend_from_slice(name);
            central.extend_from_slice(&extra);
        }
        self.out.write_all(&central)?;
        let cd_size = central.len() as u64;
        let cd_end = cd_start + cd_size;
        let count = self.entries.len() as u64;
        let many = count >= self.limits.max16;
        let far = cd_start >= self.limits.max32 || cd_size >= self.limits.max32;
        let mut end = Vec::with_capacity(22 + 56 + 20);
        if many || far {
            // The ZIP64 end record and its locator (right before the classic end record).
            end.extend_from_slice(&ZIP64_END_SIG.to_le_bytes());
            end.extend_from_slice(&44u64.to_le_bytes()); // size of the rest of this record
            end.extend_from_slice(&(MADE_BY_UNIX | VERSION_ZIP64).to_le_bytes());
            end.extend_from_slice(&VERSION_ZIP64.to_le_bytes());
            end.extend_from_slice(&0u32.to_le_bytes()); // this disk
            end.extend_from_slice(&0u32.to_le_bytes()); // disk of the central directory
            end.extend_from_slice(&count.to_le_bytes());
            end.extend_from_slice(&count.to_le_bytes());
            end.extend_from_slice(&cd_size.to_le_bytes());
            end.extend_from_slice(&cd_start.to_le_bytes());
            end.extend_from_slice(&ZIP64_LOCATOR_SIG.to_le_bytes());
            end.extend_from_slice(&0u32.to_le_bytes()); // disk of the ZIP64 end record
            end.extend_from_slice(&cd_end.to_le_bytes()); // where it starts
            end.extend_from_slice(&1u32.to_le_bytes()); // disks
        }
        let count16 = if many { u16::MAX } else { count as u16 };
        let cd_size32 = if cd_size >= self.limits.max32 {
            u32::MAX
        } else {
            cd_size as u32
        };
        let cd_start32 = if cd_start >= self.limits.max32 {
            u32::MAX
        } else {
            cd_start as u32
        };
        end.extend_from_slice(&END_SIG.to_le_bytes());
        end.extend_from_slice(&0u16.to_le_bytes());
        end.extend_from_slice(&0u16.to_le_bytes());
        end.extend_from_slice(&count16.to_le_bytes());
        end.extend_from_slice(&count16.to_le_bytes());
        end.extend_from_slice(&cd_size32.to_le_bytes());
        end.extend_from_slice(&cd_start32.to_le_bytes());
        end.extend_from_slice(&0u16.to_le_bytes()); // comment
        self.out.write_all(&end)?;
        self.out.flush()?;
        let size = cd_end + end.len() as u64;
        let file = self.out.into_inner().map_err(|e| e.into_error())?;
        Ok((file, size))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::process::Command;

    /// Writes `files` (name, content) with `limits`; returns the archive's bytes and entries.
    fn build(dir: &Path, files: &[(&str, Vec<u8>)], limits: Limits) -> (Vec<u8>, Vec<Written>) {
        let mut zip = ZipWriter::new(tempfile::tempfile().unwrap(), limits);
        let mut written = Vec::new();
        for (i, (name, content)) in files.iter().enumerate() {
            let p = dir.join(format!("src{i}"));
            std::fs::write(&p, content).unwrap();
            let f = File::open(&p).unwrap();
            let mut seen = 0usize;
            let w = zip
                .add_file(name, &f, content.len() as u64, &mut |c| seen += c.len())
                .unwrap();
            assert_eq!(seen, content.len());
            written.push(w);
        }
        let (mut file, size) = zip.finish().unwrap();
        let mut bytes = Vec::new();
        file.seek(SeekFrom::Start(0)).unwrap();
        std::io::Read::read_to_end(&mut file, &mut bytes).unwrap();
        assert_eq!(bytes.len() as u64, size);
        (bytes, written)
    }

    /// Checks the archive with Info-ZIP's `unzip -t` and Python's zipfile (two independent
    /// readers), and that every entry reads back as `files` says.
    fn check_with_real_readers(dir: &Path, bytes: &[u8], files: &[(&str, Vec<u8>)]) {
        let path = dir.join("check.zip");
        std::fs::write(&path, bytes).unwrap();
        let out = Command::new("unzip")
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
        for (name, content) in files {
            let out = Command::new("unzip")
                .arg("-p")
                .arg(&path)
                .arg(name)
                .output()
                .expect("unzip -p");
            assert!(out.status.success(), "unzip -p {name}");
            assert_eq!(&out.stdout, content, "{name} as unzip reads it");
        }
        let script = "import sys, zipfile, hashlib\n\
            z = zipfile.ZipFile(sys.argv[1])\n\
            assert z.testzip() is None\n\
            for i in z.infolist():\n\
            \x20   print(i.filename, i.file_size, hashlib.sha256(z.read(i)).hexdigest())\n";
        let out = Command::new("python3")
            .arg("-c")
            .arg(script)
            .arg(&path)
            .output()
            .expect("python3");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let expected: String = files
            .iter()
            .map(|(n, c)| {
                use sha2::Digest;
                format!("{n} {} {}\n", c.len(), hex::encode(sha2::Sha256::digest(c)))
            })
            .collect();
        assert_eq!(String::from_utf8_lossy(&out.stdout), expected);
    }

    fn sample() -> Vec<(&'static str, Vec<u8>)> {
        vec![
            ("a.txt", b"hello".to_vec()),
            ("dir/empty", Vec::new()),
            (
                "dir/big.bin",
                (0..3000u32).map(|i| (i % 251) as u8).collect(),
            ),
            ("ünï/cödé.md", b"# utf-8 names\n".to_vec()),
            ("z", vec![7; 1500]),
        ]
    }

    #[test]
    fn plain_archive_reads_back_and_keeps_the_fixed_layout() {
        let dir = tempfile::tempdir().unwrap();
        let files = sample();
        let (bytes, written) = build(dir.path(), &files, Limits::STANDARD);
        check_with_real_readers(dir.path(), &bytes, &files);
        // The fixed local header: 30 bytes + name, version 2.0, UTF-8 flag, 1980-01-01, sizes.
        let w = written[0];
        assert_eq!(w.start, 0);
        assert_eq!(w.data, 30 + 5);
        assert_eq!(w.crc, crc32fast::hash(b"hello"));
        let mut expected = Vec::new();
        expected.extend_from_slice(&LOCAL_SIG.to_le_bytes());
        expected.extend_from_slice(&[20, 0, 0, 8, 0, 0, 0, 0, 0x21, 0]);
        expected.extend_from_slice(&crc32fast::hash(b"hello").to_le_bytes());
        expected.extend_from_slice(&[5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0]);
        expected.extend_from_slice(b"a.txthello");
        assert_eq!(&bytes[..w.end as usize], &expected[..]);
        // No ZIP64 record in a small archive.
        assert!(!bytes.windows(4).any(|x| x == ZIP64_END_SIG.to_le_bytes()));

        // The same entry elsewhere in another archive has the same bytes (what part copies
        // of unchanged stretches rely on).
        let mut other = vec![("0-first", b"shifts everything".to_vec())];
        other.extend(files.iter().cloned());
        let (bytes2, written2) = build(dir.path(), &other, Limits::STANDARD);
        for (a, b) in written.iter().zip(&written2[1..]) {
            assert_eq!(
                bytes[a.start as usize..a.end as usize],
                bytes2[b.start as usize..b.end as usize]
            );
        }
    }

    #[test]
    fn zip64_records_read_back_with_real_readers() {
        // Lowered limits: entries of 1000 bytes or more, offsets from 1000, and 3 entries or more
        // take the ZIP64 paths that real archives take at 4 GiB and 65,535 entries.
        let limits = Limits {
            max32: 1000,
            max16: 3,
        };
        let dir = tempfile::tempdir().unwrap();
        let files = sample();
        let (bytes, written) = build(dir.path(), &files, limits);
        check_with_real_readers(dir.path(), &bytes, &files);
        assert!(bytes.windows(4).any(|x| x == ZIP64_END_SIG.to_le_bytes()));
        assert!(
            bytes
                .windows(4)
                .any(|x| x == ZIP64_LOCATOR_SIG.to_le_bytes())
        );
        // A big entry's local header carries version 4.5, escaped sizes and the ZIP64 extra.
        let big = written[2];
        let h = &bytes[big.start as usize..big.data as usize];
        assert_eq!(u16::from_le_bytes([h[4], h[5]]), VERSION_ZIP64);
        assert_eq!(&h[18..26], &[0xFF; 8]);
        assert_eq!(u16::from_le_bytes([h[28], h[29]]), 20);
        assert_eq!(big.data - big.start, 30 + "dir/big.bin".len() as u64 + 20);
        // A small entry keeps the plain header even at a ZIP64 offset.
        let small = written[3];
        assert!(small.start >= 1000);
        assert_eq!(small.data - small.start, 30 + "ünï/cödé.md".len() as u64);
    }

    #[test]
    fn a_file_that_shrinks_is_rolled_back_and_one_that_grows_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        let mut zip = ZipWriter::new(tempfile::tempfile().unwrap(), Limits::STANDARD);
        let p = dir.path().join("f");
        std::fs::write(&p, b"0123456789").unwrap();
        let f = File::open(&p).unwrap();
        // As if fstat had said 20 bytes and the file was truncated since.
        let err = zip.add_file("shrunk", &f, 20, &mut |_| {}).unwrap_err();
        assert!(
            matches!(
                err,
                AddError::Shrunk {
                    read: 10,
                    expected: 20
                }
            ),
            "{err}"
        );
        // As if fstat had said 4 bytes and the file grew since: exactly 4 bytes are taken.
        let w = zip.add_file("grown", &f, 4, &mut |_| {}).unwrap();
        assert_eq!(w.start, 0, "the shrunk entry left nothing behind");
        let (mut file, _) = zip.finish().unwrap();
        let mut bytes = Vec::new();
        file.seek(SeekFrom::Start(0)).unwrap();
        std::io::Read::read_to_end(&mut file, &mut bytes).unwrap();
        check_with_real_readers(dir.path(), &bytes, &[("grown", b"0123".to_vec())]);
    }
}
