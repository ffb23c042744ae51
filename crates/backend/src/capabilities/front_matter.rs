//! A skill's `SKILL.md` front matter: the YAML block between the first two `---` lines, of which
//! the library keeps `name` and `description`.
//!
//! The block ends where the Claude Code CLI ends it — at the first `---` after the opening line,
//! wherever it stands — so a `---` inside a value is refused here rather than read one way by the
//! backend and another way by the CLI.

use protocol::capabilities::{MAX_NAME_CHARS, valid_name};

use super::MAX_DESCRIPTION_CHARS;
use super::archive::{ArchiveError, SKILL_FILE};

/// The longest front matter read, in bytes.
pub const MAX_FRONT_MATTER_BYTES: usize = 16 * 1024;

/// What the library keeps of a skill's front matter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkillMeta {
    pub name: String,
    pub description: String,
}

fn refused(message: impl Into<String>) -> ArchiveError {
    ArchiveError::Refused(format!("{SKILL_FILE}: {}", message.into()))
}

/// The YAML text of `content`'s front matter.
fn block(content: &str) -> Result<&str, ArchiveError> {
    let content = content.strip_prefix('\u{feff}').unwrap_or(content);
    let (first, rest) = content.split_once('\n').unwrap_or((content, ""));
    if first.trim_end() != "---" {
        return Err(refused(
            "must start with a `---` line opening its front matter (`name`, `description`)",
        ));
    }
    let Some(end) = rest.find("---") else {
        return Err(refused("its front matter has no closing `---` line"));
    };
    let at_line_start = end == 0 || rest.as_bytes()[end - 1] == b'\n';
    let line_rest = rest[end + 3..].split('\n').next().unwrap_or_default();
    if !at_line_start || !line_rest.trim().is_empty() {
        return Err(refused(
            "`---` may appear in the front matter only as its closing line",
        ));
    }
    let yaml = &rest[..end];
    if yaml.len() > MAX_FRONT_MATTER_BYTES {
        return Err(refused(format!(
            "its front matter is longer than {} KiB",
            MAX_FRONT_MATTER_BYTES / 1024
        )));
    }
    Ok(yaml)
}

/// Reads `name` and `description` from a `SKILL.md`.
pub fn parse_skill(content: &[u8]) -> Result<SkillMeta, ArchiveError> {
    let text = std::str::from_utf8(content).map_err(|_| refused("is not UTF-8 text"))?;
    let yaml = block(text)?;
    let value: serde_yaml_ng::Value = serde_yaml_ng::from_str(yaml)
        .map_err(|e| refused(format!("its front matter is not valid YAML: {e}")))?;
    let serde_yaml_ng::Value::Mapping(map) = value else {
        return Err(refused(
            "its front matter must be a mapping of `key: value` lines",
        ));
    };
    let text_of = |key: &str| -> Result<String, ArchiveError> {
        match map.get(key) {
            Some(serde_yaml_ng::Value::String(s)) => Ok(s.trim().to_owned()),
            Some(_) => Err(refused(format!("`{key}` in its front matter must be text"))),
            None => Err(refused(format!("its front matter has no `{key}`"))),
        }
    };
    let name = text_of("name")?;
    if !valid_name(&name) {
        return Err(refused(format!(
            "`name` must be 1 to {MAX_NAME_CHARS} letters, digits, `-`, `_` and `.`, starting with a letter or digit"
        )));
    }
    let description = text_of("description")?;
    if description.is_empty() || description.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(refused(format!(
            "`description` must be 1 to {MAX_DESCRIPTION_CHARS} characters"
        )));
    }
    Ok(SkillMeta { name, description })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_and_description_are_read() {
        let m = parse_skill(
            b"---\nname: pdf-tools\ndescription: >-\n  Fill PDF forms:\n  fast.\nlicense: MIT\n---\n# Body\n---\n",
        )
        .unwrap();
        assert_eq!(m.name, "pdf-tools");
        assert_eq!(m.description, "Fill PDF forms: fast.");
        let m = parse_skill(b"\xef\xbb\xbf---\r\nname: \"a\"\r\ndescription: 'b: c'\r\n---\r\n")
            .unwrap();
        assert_eq!((m.name.as_str(), m.description.as_str()), ("a", "b: c"));
    }

    #[test]
    fn bad_front_matter_is_refused() {
        for bad in [
            &b"name: a\ndescription: b\n"[..],
            b"---\nname: a\ndescription: b\n",
            b"---\nname: a\n---\n",
            b"---\ndescription: b\n---\n",
            b"---\nname: ../x\ndescription: b\n---\n",
            b"---\nname: a\ndescription: ''\n---\n",
            b"---\nname: [a]\ndescription: b\n---\n",
            b"---\nname: a\ndescription: b --- c\n---\n",
            b"---\n- a\n- b\n---\n",
            b"---\nname: a\ndescription: [unclosed\n---\n",
            b"---\nname: a\ndescription: \xff\n---\n",
        ] {
            assert!(
                parse_skill(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
