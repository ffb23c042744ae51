//! Small text helpers shared by the endpoints: made-up titles and token
//! estimates. Real token counts do not matter to clients, but they must be
//! plausible (non-zero, growing with the input) because clients sum and show
//! them.

use crate::scenario::strip_markers;

/// Words kept in a derived title.
pub const TITLE_WORDS: usize = 5;

/// Title used when there is no usable text.
pub const UNTITLED: &str = "Untitled session";

/// A short title made from the first words of `text`: the part inside
/// `<session>` tags if any (the CLI's title prompt wraps the prompt in them),
/// without `<system-reminder>` blocks and scenario markers, first letter upper
/// case. Deterministic, so tests can predict it.
pub fn derive_title(text: &str) -> String {
    let inner = between(text, "<session>", "</session>").unwrap_or(text);
    let cleaned = strip_markers(&strip_system_reminders(inner));
    let words: Vec<&str> = cleaned.split_whitespace().take(TITLE_WORDS).collect();
    if words.is_empty() {
        return UNTITLED.to_string();
    }
    let joined = words.join(" ");
    let mut chars = joined.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => UNTITLED.to_string(),
    }
}

/// About four bytes per token, never zero.
pub fn estimate_tokens(bytes: usize) -> u64 {
    u64::try_from(bytes.div_ceil(4)).unwrap_or(u64::MAX).max(1)
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = text.find(open)? + open.len();
    let end = text[start..].find(close)? + start;
    Some(&text[start..end])
}

fn strip_system_reminders(text: &str) -> String {
    const OPEN: &str = "<system-reminder>";
    const CLOSE: &str = "</system-reminder>";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(OPEN) {
        out.push_str(&rest[..start]);
        match rest[start..].find(CLOSE) {
            Some(end) => rest = &rest[start + end + CLOSE.len()..],
            None => {
                rest = "";
                break;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_take_the_first_words() {
        assert_eq!(
            derive_title("[scenario:x] fix the login page redirect bug please"),
            "Fix the login page redirect"
        );
        assert_eq!(
            derive_title("<session>\nadd a cache\n</session>\n\nWrite the title"),
            "Add a cache"
        );
        assert_eq!(
            derive_title("<system-reminder>ctx</system-reminder>hello"),
            "Hello"
        );
        assert_eq!(derive_title("   "), UNTITLED);
    }
}
