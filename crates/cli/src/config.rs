//! The config file: which server to talk to and the API token for it.
//!
//! `$XDG_CONFIG_HOME/workcell/config.toml`, else `~/.config/workcell/config.toml`. The token is
//! a secret: the directory is made `0700`, the file is written `0600` (through a temporary file
//! in the same directory, renamed over the old one, so a crash never leaves half a file), and
//! `Debug` never prints it. A stored token is only ever sent to the server it was issued by.

use std::fmt;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The server when neither `--server`, `WORKCELL_SERVER` nor the config file names one.
/// The backend on this host (compose binds it to 127.0.0.1:8000). The web UI's port (3000) does
/// not carry the WebSocket: a team server is reached through the reverse proxy in front of both.
pub const DEFAULT_SERVER: &str = "http://localhost:8000";

/// What the config file holds.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The server's base URL (without `/api/v1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// An API token (`wc_…`) for `server`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("server", &self.server)
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

impl Config {
    /// The stored token, if it was issued by `server` (never leaked to another server).
    pub fn token_for(&self, server: &str) -> Option<&str> {
        match (&self.server, &self.token) {
            (Some(s), Some(t)) if same_server(s, server) => Some(t),
            _ => None,
        }
    }
}

/// Where the config file lives, from the environment.
pub fn default_path() -> Result<PathBuf> {
    path_from(
        std::env::var_os("XDG_CONFIG_HOME").map(PathBuf::from),
        std::env::var_os("HOME").map(PathBuf::from),
    )
}

fn path_from(xdg: Option<PathBuf>, home: Option<PathBuf>) -> Result<PathBuf> {
    let base = match (xdg, home) {
        // The XDG spec: a relative value is invalid and must be ignored.
        (Some(x), _) if x.is_absolute() => x,
        (_, Some(h)) if !h.as_os_str().is_empty() => h.join(".config"),
        _ => {
            return Err(Error::Usage(
                "cannot find the config directory: set HOME or XDG_CONFIG_HOME".into(),
            ));
        }
    };
    Ok(base.join("workcell").join("config.toml"))
}

/// Reads the config file; a missing file is an empty config.
pub fn load(path: &Path) -> Result<Config> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
        Err(e) => return Err(Error::io(path.display(), e)),
    };
    toml::from_str(&text).map_err(|e| Error::Config {
        path: path.display().to_string(),
        detail: e.message().to_owned(),
    })
}

/// Writes the config file: directory `0700`, file `0600`, replaced atomically.
pub fn save(path: &Path, config: &Config) -> Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| Error::Usage(format!("{} has no directory", path.display())))?;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| Error::io(dir.display(), e))?;
    // The directory may have existed with looser permissions: it is ours, tighten it.
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| Error::io(dir.display(), e))?;
    let text = toml::to_string(config).map_err(|e| Error::Config {
        path: path.display().to_string(),
        detail: e.to_string(),
    })?;
    let tmp = dir.join(format!(".config.toml.{}.tmp", std::process::id()));
    let written = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(path.display(), e));
    }
    Ok(())
}

/// Checks a server URL and drops its trailing slashes: `http://` or `https://`, a host, no query.
pub fn normalize_server(url: &str) -> Result<String> {
    let url = url.trim().trim_end_matches('/');
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| {
            Error::Usage(format!(
                "server `{url}` must start with http:// or https://"
            ))
        })?;
    if rest.is_empty() || rest.starts_with('/') || rest.contains(['?', '#', ' ']) {
        return Err(Error::Usage(format!("server `{url}` is not a valid URL")));
    }
    Ok(url.to_owned())
}

fn same_server(a: &str, b: &str) -> bool {
    a.trim_end_matches('/')
        .eq_ignore_ascii_case(b.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_prefers_an_absolute_xdg_config_home() {
        let p = path_from(Some("/x/cfg".into()), Some("/home/u".into())).unwrap();
        assert_eq!(p, PathBuf::from("/x/cfg/workcell/config.toml"));
        let p = path_from(Some("relative".into()), Some("/home/u".into())).unwrap();
        assert_eq!(p, PathBuf::from("/home/u/.config/workcell/config.toml"));
        let p = path_from(None, Some("/home/u".into())).unwrap();
        assert_eq!(p, PathBuf::from("/home/u/.config/workcell/config.toml"));
        assert!(path_from(None, None).is_err());
    }

    #[test]
    fn saved_file_is_private_and_reads_back() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("cfg").join("workcell").join("config.toml");
        let config = Config {
            server: Some("https://wc.example".into()),
            token: Some("wc_secret".into()),
        };
        save(&path, &config).unwrap();
        let file_mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        let dir_mode = std::fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(file_mode, 0o600);
        assert_eq!(dir_mode, 0o700);
        assert_eq!(load(&path).unwrap(), config);

        // Saving again keeps the modes and leaves no temporary file behind.
        save(&path, &Config::default()).unwrap();
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(load(&path).unwrap(), Config::default());
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("config.toml")]);
    }

    #[test]
    fn an_existing_loose_directory_is_tightened() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("workcell");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        save(&dir.join("config.toml"), &Config::default()).unwrap();
        assert_eq!(
            std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
    }

    #[test]
    fn a_missing_file_is_an_empty_config_and_garbage_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        assert_eq!(
            load(&tmp.path().join("none.toml")).unwrap(),
            Config::default()
        );
        let bad = tmp.path().join("bad.toml");
        std::fs::write(&bad, "server = [").unwrap();
        assert!(matches!(load(&bad), Err(Error::Config { .. })));
    }

    #[test]
    fn the_token_goes_only_to_its_server() {
        let c = Config {
            server: Some("http://a:3000".into()),
            token: Some("wc_t".into()),
        };
        assert_eq!(c.token_for("http://a:3000/"), Some("wc_t"));
        assert_eq!(c.token_for("http://b:3000"), None);
        assert!(!format!("{c:?}").contains("wc_t"));
    }

    #[test]
    fn server_urls_are_checked() {
        assert_eq!(
            normalize_server("http://127.0.0.1:8000/").unwrap(),
            "http://127.0.0.1:8000"
        );
        assert_eq!(
            normalize_server("https://wc.example/sub").unwrap(),
            "https://wc.example/sub"
        );
        assert!(normalize_server("wc.example").is_err());
        assert!(normalize_server("http://").is_err());
        assert!(normalize_server("http://x?y=1").is_err());
    }
}
