//! The Markdown files the CLI reads, rendered when a run is queued: a slash command
//! (`commands/{name}.md`: front matter `description`, `argument-hint`, `allowed-tools`, `model`;
//! the body is the prompt) and a subagent (`agents/{name}.md`: `name`, `description`, `tools`,
//! `model`; the body is its system prompt).
//!
//! Every value is a YAML double-quoted string in which nothing can end the block: newlines and
//! control characters are escapes, and a third `-` in a row is written `\u002D`, because the
//! CLI ends the front matter at the first `---` it finds, even inside a value. Lists are flow
//! sequences of such strings (the CLI takes a list as well as a comma-separated string).

use protocol::capabilities::{SlashCommandView, SubagentView};

/// `value` as a YAML double-quoted scalar that cannot contain a line break or `---`.
pub fn quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    let mut dashes = 0;
    for c in value.chars() {
        if c == '-' {
            dashes += 1;
            if dashes >= 3 {
                out.push_str("\\u002D");
                dashes = 0;
            } else {
                out.push('-');
            }
            continue;
        }
        dashes = 0;
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{85}' | '\u{feff}') => {
                out.push_str(&format!("\\u{:04X}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| quoted(s)).collect();
    format!("[{}]", quoted.join(", "))
}

/// The front matter lines in order, then the body (ending with a newline).
fn document(fields: &[(&str, String)], body: &str) -> String {
    let mut out = String::from("---\n");
    for (key, value) in fields {
        out.push_str(key);
        out.push_str(": ");
        out.push_str(value);
        out.push('\n');
    }
    out.push_str("---\n");
    out.push_str(body);
    if !body.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// `commands/{name}.md`.
pub fn command(c: &SlashCommandView) -> String {
    let mut fields = Vec::new();
    if !c.description.is_empty() {
        fields.push(("description", quoted(&c.description)));
    }
    if let Some(hint) = &c.argument_hint {
        fields.push(("argument-hint", quoted(hint)));
    }
    if !c.allowed_tools.is_empty() {
        fields.push(("allowed-tools", list(&c.allowed_tools)));
    }
    if let Some(model) = &c.model {
        fields.push(("model", quoted(model)));
    }
    document(&fields, &c.body)
}

/// `agents/{name}.md`.
pub fn subagent(a: &SubagentView) -> String {
    let mut fields = vec![
        ("name", quoted(&a.name)),
        ("description", quoted(&a.description)),
    ];
    if !a.tools.is_empty() {
        fields.push(("tools", list(&a.tools)));
    }
    if let Some(model) = &a.model {
        fields.push(("model", quoted(model)));
    }
    document(&fields, &a.system_prompt)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The block the CLI reads: from the opening line to the first `---` anywhere after it.
    fn cli_block(doc: &str) -> &str {
        let rest = doc.strip_prefix("---\n").expect("opening line");
        &rest[..rest.find("---").expect("closing line")]
    }

    fn view() -> SlashCommandView {
        SlashCommandView {
            id: uuid::Uuid::nil(),
            name: "review".into(),
            description: "Review\n---\nmodel: evil".into(),
            argument_hint: Some("[file] \"quoted\" \\ ---- end".into()),
            allowed_tools: vec!["Bash(git diff:*)".into(), "Read".into()],
            model: None,
            body: "Review $ARGUMENTS\n---\nnot front matter".into(),
            enabled: true,
            system: false,
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn values_cannot_break_the_front_matter() {
        let doc = command(&view());
        let block = cli_block(&doc);
        let yaml: serde_yaml_ng::Value = serde_yaml_ng::from_str(block).unwrap();
        assert_eq!(
            yaml["description"].as_str(),
            Some("Review\n---\nmodel: evil")
        );
        assert_eq!(
            yaml["argument-hint"].as_str(),
            Some("[file] \"quoted\" \\ ---- end")
        );
        assert_eq!(yaml["allowed-tools"][0].as_str(), Some("Bash(git diff:*)"));
        assert!(yaml.get("model").is_none());
        assert!(doc.ends_with("---\nReview $ARGUMENTS\n---\nnot front matter\n"));
    }

    #[test]
    fn subagents_carry_their_prompt_as_the_body() {
        let a = SubagentView {
            id: uuid::Uuid::nil(),
            name: "tester".into(),
            description: "Runs tests\u{2028}always".into(),
            tools: vec![],
            model: Some("sonnet".into()),
            system_prompt: "You run tests.".into(),
            enabled: true,
            system: false,
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        };
        let doc = subagent(&a);
        let yaml: serde_yaml_ng::Value = serde_yaml_ng::from_str(cli_block(&doc)).unwrap();
        assert_eq!(yaml["name"].as_str(), Some("tester"));
        assert_eq!(
            yaml["description"].as_str(),
            Some("Runs tests\u{2028}always")
        );
        assert_eq!(yaml["model"].as_str(), Some("sonnet"));
        assert!(yaml.get("tools").is_none());
        assert!(doc.ends_with("---\nYou run tests.\n"));
    }
}
