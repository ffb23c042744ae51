//! Search over the caller's past work (`GET /api/v1/search`): session titles, run prompts,
//! the assistant's text and the paths of the files runs changed.
//!
//! Matching: every word of `q` must occur (PostgreSQL's `websearch_to_tsquery` syntax:
//! `"quoted phrase"`, `or`, `-excluded`), either as a whole word or as a part of one, so a
//! partial word (`kube` finds `kubernetes`) and text without spaces (Chinese: `数据库` finds
//! `修复数据库连接`) match too. Results are ranked best first: whole-word matches above
//! partial ones, words close together (a phrase) above scattered ones, titles above prompts above
//! the assistant's text; equal scores put the newest first.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use uuid::Uuid;

/// The most characters `q` may have.
pub const MAX_QUERY_CHARS: usize = 200;
/// The most hits one page may ask for.
pub const MAX_LIMIT: i64 = 50;
/// The hits a page has when `limit` is not given.
pub const DEFAULT_LIMIT: i64 = 20;
/// Only this many first characters of a text are searchable.
pub const MAX_INDEXED_CHARS: usize = 10_000;

/// Where a hit's text comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SearchHitKind {
    /// The session's title.
    Title,
    /// A run's prompt (the user's words); `run_id` names the run.
    Prompt,
    /// Text the assistant wrote; `seq` is the `assistant_text` event's.
    Assistant,
    /// Paths of files a run added, modified, deleted or renamed (one per line in the
    /// `file_changes` event whose `seq` is given).
    File,
}

impl SearchHitKind {
    pub const ALL: [SearchHitKind; 4] = [
        SearchHitKind::Title,
        SearchHitKind::Prompt,
        SearchHitKind::Assistant,
        SearchHitKind::File,
    ];

    /// The name stored in the database (and on the wire).
    pub fn as_str(self) -> &'static str {
        match self {
            SearchHitKind::Title => "title",
            SearchHitKind::Prompt => "prompt",
            SearchHitKind::Assistant => "assistant",
            SearchHitKind::File => "file",
        }
    }
}

impl std::str::FromStr for SearchHitKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SearchHitKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown search hit kind `{s}`"))
    }
}

/// One match: where it is (session, run, event) and a snippet to show.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SearchHit {
    pub kind: SearchHitKind,
    pub session_id: Uuid,
    /// The session's title now.
    pub session_title: String,
    pub project_id: Option<Uuid>,
    /// The run of a prompt, assistant or file hit; null for a title.
    pub run_id: Option<Uuid>,
    /// The session event the hit comes from (assistant and file hits): open the session at it.
    pub seq: Option<i64>,
    /// Plain text, never HTML: a stretch of the matching text around its first match,
    /// whitespace runs shown as one space, about 200 characters at most, with `…` where it was
    /// cut (a short text is shown whole).
    pub snippet: String,
    /// The stretches of `snippet` that match a word of the query: half-open `[start, end)`
    /// offsets in UTF-16 code units (what JavaScript's `String.prototype.slice` counts), sorted
    /// and not overlapping. Render `snippet.slice(0, s0)`, a mark around
    /// `snippet.slice(s0, e0)`, and so on, as text.
    pub highlights: Vec<[u32; 2]>,
    /// Higher is better; comparable within one query only.
    pub score: f64,
    /// When the text was written (the event's time, the run's or the session's creation).
    pub created_at: DateTime<Utc>,
}

/// `GET /search`: best first; pass `next_cursor` back as `cursor` (with the same `q` and
/// filters) for the next page; null on the last.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SearchResults {
    pub hits: Vec<SearchHit>,
    pub next_cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_by_name() {
        for k in SearchHitKind::ALL {
            assert_eq!(k.as_str().parse::<SearchHitKind>(), Ok(k));
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
        assert!("event".parse::<SearchHitKind>().is_err());
    }
}
