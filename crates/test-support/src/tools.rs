//! Where the external tools are: the environment variable when set, else where `scripts/lib.sh`
//! installs them (`$WORKCELL_TOOLS`, default `$HOME/.cache/workcell-tools`); and this workspace's
//! own binaries in the target directory.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// `$WORKCELL_TOOLS`, else `$HOME/.cache/workcell-tools`: the tools directory of `scripts/lib.sh`.
pub fn workcell_tools() -> PathBuf {
    if let Some(dir) = non_empty_var("WORKCELL_TOOLS") {
        return PathBuf::from(dir);
    }
    let home = non_empty_var("HOME").expect("neither WORKCELL_TOOLS nor HOME is set");
    PathBuf::from(home).join(".cache").join("workcell-tools")
}

/// The s3s-fs server binary: `S3S_FS_BIN`, else `$WORKCELL_TOOLS/bin/s3s-fs`. Panics (with the
/// install command) when it is not there.
pub fn s3s_fs_bin() -> PathBuf {
    let (bin, _) = locate("S3S_FS_BIN", "bin/s3s-fs");
    assert!(
        bin.exists(),
        "s3s-fs not found at {}: set S3S_FS_BIN, or install it with `cargo install s3s-fs \
         --version 0.14.1 --features binary --root \"$WORKCELL_TOOLS\"` (scripts/test.sh does)",
        bin.display()
    );
    bin
}

/// The Claude Code CLI: `CLAUDE_BIN`, else `$WORKCELL_TOOLS/node_modules/.bin/claude`. Panics
/// (with the install command) when it is not there: a test that needs the CLI must not pass
/// without it.
pub fn claude_bin() -> PathBuf {
    claude_bin_if_installed().unwrap_or_else(|| {
        let (bin, _) = locate("CLAUDE_BIN", CLAUDE_REL);
        panic!(
            "the Claude Code CLI is not at {}: {CLAUDE_INSTALL}",
            bin.display()
        )
    })
}

/// The Claude Code CLI when it is installed, for the tests and benchmarks that skip (loudly)
/// without it. A `CLAUDE_BIN` that names no file is a mistake and panics.
pub fn claude_bin_if_installed() -> Option<PathBuf> {
    let (bin, from_env) = locate("CLAUDE_BIN", CLAUDE_REL);
    if from_env {
        assert!(bin.exists(), "CLAUDE_BIN={} does not exist", bin.display());
    }
    bin.exists().then_some(bin)
}

/// How to install the CLI where [`claude_bin`] looks (for skip and failure messages).
pub const CLAUDE_INSTALL: &str = "set CLAUDE_BIN, or install it with `npm install --prefix \
     \"$WORKCELL_TOOLS\" @anthropic-ai/claude-code` (scripts/test.sh does)";

const CLAUDE_REL: &str = "node_modules/.bin/claude";

/// One of this workspace's binaries (`executor`, `backend`, ...): `$var` when set, else `name` in
/// the target directory this test or benchmark was built into (`target/<profile>/deps/<test>` →
/// `target/<profile>/<name>`). Panics when it is not built.
pub fn target_bin(name: &str, var: &str) -> PathBuf {
    if let Some(p) = non_empty_var(var) {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("current exe");
    let p = exe
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join(name))
        .expect("target directory");
    assert!(
        p.exists(),
        "{name} binary not found at {}: run `cargo build -p {name}` or set {var}",
        p.display()
    );
    p
}

/// `$var` (when set and not empty) or `$WORKCELL_TOOLS/rel`, and whether it came from `$var`.
fn locate(var: &str, rel: &str) -> (PathBuf, bool) {
    match non_empty_var(var) {
        Some(p) => (PathBuf::from(p), true),
        None => (workcell_tools().join(rel), false),
    }
}

fn non_empty_var(name: &str) -> Option<OsString> {
    std::env::var_os(name).filter(|v| !v.is_empty())
}
