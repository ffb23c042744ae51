//! The bucket's key layout (the table in the crate documentation), as functions, and
//! [`within`], the one check that a key stays inside the prefix it must.
//!
//! Prefixes end with `/`, so that `workspaces/{a}/` never matches `workspaces/{a}0/...`.

use uuid::Uuid;

/// The longest key accepted by [`within`] (S3's own limit, in bytes).
pub const MAX_KEY_BYTES: usize = 1024;

/// Everything of one session's workspace: `workspaces/{session}/`. Retention deletes it whole.
pub fn workspace_prefix(session: Uuid) -> String {
    format!("workspaces/{session}/")
}

/// The session's pointer to its last export: `workspaces/{session}/latest.json`.
pub fn latest_key(session: Uuid) -> String {
    format!("{}latest.json", workspace_prefix(session))
}

/// Everything one run's export wrote: `workspaces/{session}/runs/{run}/`.
pub fn run_prefix(session: Uuid, run: Uuid) -> String {
    format!("{}runs/{run}/", workspace_prefix(session))
}

/// The run's manifest (`protocol::files::Manifest`): `workspaces/{session}/runs/{run}/manifest.json`.
pub fn manifest_key(session: Uuid, run: Uuid) -> String {
    format!("{}manifest.json", run_prefix(session, run))
}

/// The largest manifest either service reads back (about 100,000 files).
pub const MAX_MANIFEST_BYTES: u64 = 32 * 1024 * 1024;

/// The run's whole workspace as a ZIP: `workspaces/{session}/runs/{run}/archive.zip`.
pub fn archive_key(session: Uuid, run: Uuid) -> String {
    format!("{}archive.zip", run_prefix(session, run))
}

/// A file the run added or modified, at its workspace-relative `path` (segments joined by `/`):
/// `workspaces/{session}/runs/{run}/files/{path}`.
pub fn run_file_key(session: Uuid, run: Uuid, path: &str) -> String {
    format!("{}files/{path}", run_prefix(session, run))
}

/// The agent's own state after the run (the CLI's conversation files, for `--resume` on another
/// host), never shown to the user: `workspaces/{session}/runs/{run}/agent.zip`.
pub fn agent_archive_key(session: Uuid, run: Uuid) -> String {
    format!("{}agent.zip", run_prefix(session, run))
}

/// Where each file of [`agent_archive_key`] lies in it: `workspaces/{session}/runs/{run}/agent.json`.
pub fn agent_manifest_key(session: Uuid, run: Uuid) -> String {
    format!("{}agent.json", run_prefix(session, run))
}

/// A zip of one folder of a run's export, made on request by the backend and kept for the next
/// request: `workspaces/{session}/runs/{run}/folder-archives/{digest}.zip`. `digest` is hex (the
/// backend uses 32 digits of a SHA-256 over the manifest's time and the folder's path, so a
/// key stays short enough for s3s-fs and never carries a path from a request).
pub fn folder_archive_key(session: Uuid, run: Uuid, digest: &str) -> String {
    format!("{}folder-archives/{digest}.zip", run_prefix(session, run))
}

/// Everything a user uploaded: `users/{user}/attachments/`.
pub fn attachments_prefix(user: Uuid) -> String {
    format!("users/{user}/attachments/")
}

/// One attachment: `users/{user}/attachments/{id}/{name}`. `name` must already be a plain file
/// name (no `/`); the backend sanitizes it before building the key.
pub fn attachment_key(user: Uuid, id: Uuid, name: &str) -> String {
    format!("{}{id}/{name}", attachments_prefix(user))
}

/// Every file of a user's project: `users/{user}/projects/{project}/files/`.
pub fn project_files_prefix(user: Uuid, project: Uuid) -> String {
    format!("users/{user}/projects/{project}/files/")
}

/// One project file: `users/{user}/projects/{project}/files/{id}/{name}` (`name` already plain,
/// as for attachments).
pub fn project_file_key(user: Uuid, project: Uuid, id: Uuid, name: &str) -> String {
    format!("{}{id}/{name}", project_files_prefix(user, project))
}

/// Every skill of an owner: `users/{user}/skills/`, or `system/skills/` for system skills
/// (`owner` `None`).
pub fn skills_prefix(owner: Option<Uuid>) -> String {
    match owner {
        Some(user) => format!("users/{user}/skills/"),
        None => "system/skills/".to_owned(),
    }
}

/// One version of one skill: `{skills_prefix}{skill}/{version}/`. `version` is the skill's
/// content hash (hex), so a new upload never overwrites the files a queued run will fetch.
pub fn skill_version_prefix(owner: Option<Uuid>, skill: Uuid, version: &str) -> String {
    format!("{}{skill}/{version}/", skills_prefix(owner))
}

/// The object of the `index`-th file (in path order) of a skill version: `{version prefix}{index}`.
/// The file's path travels next to the key (`protocol::capabilities::SnapshotSkillFile`). A key that carried the
/// path after the 64-hex version would pass the length a file-backed store can keep (s3s-fs, the
/// development and test store, names a metadata file after the whole key, base64-encoded: keys
/// over about 160 bytes fail there) for any path longer than a dozen characters.
pub fn skill_object_key(owner: Option<Uuid>, skill: Uuid, version: &str, index: usize) -> String {
    format!("{}{index}", skill_version_prefix(owner, skill, version))
}

/// Whether `key` is a plain object key strictly inside `prefix`:
/// - `prefix` ends with `/` (anything else is a caller's mistake: answered `false`), and `key`
///   starts with it and is longer;
/// - `key` is relative (no leading `/`) and at most [`MAX_KEY_BYTES`];
/// - no segment of `key` is empty, `.` or `..` (a file-backed store would resolve them to another
///   key), and no character is a control character.
///
/// Keys read back from the bucket, the database or a peer go through this before they are
/// signed, read or copied.
pub fn within(prefix: &str, key: &str) -> bool {
    prefix.ends_with('/')
        && key.len() > prefix.len()
        && key.len() <= MAX_KEY_BYTES
        && key.starts_with(prefix)
        && !key.chars().any(char::is_control)
        && key
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> (Uuid, Uuid) {
        (
            Uuid::parse_str("11111111-1111-4111-8111-111111111111").unwrap(),
            Uuid::parse_str("22222222-2222-4222-8222-222222222222").unwrap(),
        )
    }

    #[test]
    fn the_layout() {
        let (s, r) = ids();
        assert_eq!(workspace_prefix(s), format!("workspaces/{s}/"));
        assert_eq!(latest_key(s), format!("workspaces/{s}/latest.json"));
        assert_eq!(run_prefix(s, r), format!("workspaces/{s}/runs/{r}/"));
        assert_eq!(
            manifest_key(s, r),
            format!("workspaces/{s}/runs/{r}/manifest.json")
        );
        assert_eq!(
            archive_key(s, r),
            format!("workspaces/{s}/runs/{r}/archive.zip")
        );
        assert_eq!(
            run_file_key(s, r, "src/main.rs"),
            format!("workspaces/{s}/runs/{r}/files/src/main.rs")
        );
        assert_eq!(attachments_prefix(s), format!("users/{s}/attachments/"));
        assert_eq!(
            attachment_key(s, r, "data.csv"),
            format!("users/{s}/attachments/{r}/data.csv")
        );
        let digest = "f".repeat(32);
        assert_eq!(
            folder_archive_key(s, r, &digest),
            format!("workspaces/{s}/runs/{r}/folder-archives/{digest}.zip")
        );
        assert!(
            folder_archive_key(s, r, &digest).len() <= 160,
            "short enough for s3s-fs"
        );
        // Every key the layout builds is inside the prefixes it belongs to.
        for key in [
            latest_key(s),
            manifest_key(s, r),
            archive_key(s, r),
            run_file_key(s, r, "a/b.txt"),
            folder_archive_key(s, r, &digest),
        ] {
            assert!(within(&workspace_prefix(s), &key), "{key}");
        }
        for key in [manifest_key(s, r), run_file_key(s, r, "a/b.txt")] {
            assert!(within(&run_prefix(s, r), &key), "{key}");
        }
        assert!(within(&attachments_prefix(s), &attachment_key(s, r, "a")));
        let version = "e".repeat(64);
        assert_eq!(
            skill_object_key(Some(s), r, &version, 7),
            format!("users/{s}/skills/{r}/{version}/7")
        );
        assert_eq!(
            skill_object_key(None, r, &version, 0),
            format!("system/skills/{r}/{version}/0")
        );
        for owner in [Some(s), None] {
            let key = skill_object_key(owner, r, &version, 499);
            assert!(within(&skill_version_prefix(owner, r, &version), &key));
            assert!(within(&skills_prefix(owner), &key));
            assert!(key.len() <= 160, "{key}: short enough for s3s-fs");
        }
        assert!(!within(&attachments_prefix(r), &attachment_key(s, r, "a")));
        assert!(!within(&run_prefix(s, r), &latest_key(s)));
    }

    #[test]
    fn keys_must_stay_inside_the_prefix() {
        let p = "workspaces/s1/";
        for good in [
            "workspaces/s1/runs/r/files/a.txt",
            "workspaces/s1/x",
            "workspaces/s1/a..b/c",
            "workspaces/s1/.hidden/x",
            "workspaces/s1/%2e%2e/x",
            "workspaces/s1/naïve.txt",
        ] {
            assert!(within(p, good), "{good}");
        }
        let long = format!("{p}{}", "x".repeat(MAX_KEY_BYTES - p.len()));
        assert!(within(p, &long));
        for bad in [
            "",
            "workspaces/s1/",
            "workspaces/s1",
            "workspaces/s2/runs/r/manifest.json",
            "workspaces/s10/x",
            "/workspaces/s1/x",
            "workspaces/s1/../s2/x",
            "workspaces/s1/..",
            "workspaces/s1/x/..",
            "workspaces/s1/./x",
            "workspaces/s1/runs/.",
            "workspaces/s1//x",
            "workspaces/s1/x/",
            "workspaces/s1/x\n",
            "workspaces/s1/x\0y",
            "workspaces/s1/\u{7f}",
            "workspaces/s1/\u{85}x",
            "users/u/attachments/a/b",
            "WORKSPACES/s1/x",
        ] {
            assert!(!within(p, bad), "{bad:?}");
        }
        let too_long = format!("{long}y");
        assert!(!within(p, &too_long));
    }

    #[test]
    fn a_malformed_prefix_admits_nothing() {
        for prefix in ["", "workspaces/s1", "/", "/workspaces/s1/", "workspaces//"] {
            for key in [
                "workspaces/s1/x",
                "workspaces/s10/x",
                "/workspaces/s1/x",
                "workspaces//x",
            ] {
                assert!(!within(prefix, key), "{prefix:?} {key:?}");
            }
        }
    }
}
