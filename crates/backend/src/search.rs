//! Search over a user's past work (`GET /api/v1/search`, issue 17).
//!
//! The texts live in `search_documents` (migration `0014_search.sql`), apart from the event log:
//! titles and prompts are kept there by triggers on `sessions` and `runs` (every path that writes
//! them), assistant text and changed files' paths by the event ingester ([`index_events`], in
//! the transaction that stores the events; no other event produces a row).
//!
//! A query matches a text when PostgreSQL's full-text search does (`websearch_to_tsquery` with
//! the `simple` configuration: whole words, phrases, `or`, `-excluded`) or when every word of it
//! occurs as a substring (`ILIKE '%word%'`, case-insensitive, served by the trigram index), which
//! finds parts of words and text without spaces (Chinese). Both indexes lead with `user_id`, so
//! another user's text is never read. Whole-word matches (ranked by `ts_rank_cd`: words close
//! together first, short texts first) come before substring-only ones (shorter texts first),
//! each weighted by kind (title 1.5, prompt 1.2, others 1.0): a page is filled from the
//! full-text index alone while it has matches, which is the common case and the cheap one.
//! Pages follow `(score, id)` downwards. Snippets and their highlights are made here, from the
//! text, as plain text and UTF-16 ranges ([`snippet`]).

use chrono::{DateTime, Utc};
use protocol::search::{
    MAX_INDEXED_CHARS, MAX_LIMIT, MAX_QUERY_CHARS, SearchHit, SearchHitKind, SearchResults,
};
use sqlx::{PgPool, Postgres, QueryBuilder, Transaction};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};

/// The most words of a query matched as substrings (the full-text side takes the whole query).
const MAX_TERMS: usize = 8;
/// About how many characters a snippet shows, and how many of them come before the match.
const SNIPPET_CHARS: usize = 200;
const SNIPPET_BEFORE: usize = 60;

/// A query as the handler accepted it.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedQuery {
    /// The text as given (trimmed), for `websearch_to_tsquery`.
    pub text: String,
    /// Words that must occur (quotes, `or` and punctuation around words removed).
    pub terms: Vec<String>,
    /// Words after a `-`: texts holding them do not match.
    pub excluded: Vec<String>,
}

/// Checks and splits `q`: 422 when it is empty, too long, holds NUL, or has no word to look for.
pub fn parse_query(q: &str) -> ApiResult<ParsedQuery> {
    let text = q.trim();
    if text.is_empty() {
        return Err(ApiError::validation("q must not be empty"));
    }
    if text.chars().count() > MAX_QUERY_CHARS {
        return Err(ApiError::validation(format!(
            "q must be at most {MAX_QUERY_CHARS} characters"
        )));
    }
    if text.contains('\0') {
        return Err(ApiError::validation("q must not contain NUL characters"));
    }
    let (mut terms, mut excluded) = (Vec::new(), Vec::new());
    // Outside quotes each word is a term; a quoted phrase is one term, its words joined by one
    // space (it must occur as it is written); `-` before either excludes it.
    let mut keep = |term: String, negated: bool, quoted: bool| {
        let term = term.trim_matches(|c: char| !c.is_alphanumeric());
        if term.is_empty() || (!quoted && !negated && term.eq_ignore_ascii_case("or")) {
            return;
        }
        if negated {
            excluded.push(term.to_owned());
        } else {
            terms.push(term.to_owned());
        }
    };
    let mut word = String::new();
    let mut phrase: Option<(Vec<String>, bool)> = None;
    let mut negated = false;
    for c in text.chars() {
        match (&mut phrase, c) {
            (Some((words, _)), '"') => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                if let Some((words, neg)) = phrase.take() {
                    keep(words.join(" "), neg, true);
                }
            }
            (Some((words, _)), c) if c.is_whitespace() => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            (Some(_), c) => word.push(c),
            (None, '"') => {
                if !word.is_empty() {
                    keep(std::mem::take(&mut word), negated, false);
                    negated = false;
                }
                phrase = Some((Vec::new(), std::mem::take(&mut negated)));
            }
            (None, c) if c.is_whitespace() => {
                keep(std::mem::take(&mut word), negated, false);
                negated = false;
            }
            (None, '-') if word.is_empty() && !negated => negated = true,
            (None, c) => word.push(c),
        }
    }
    match phrase.take() {
        Some((mut words, neg)) => {
            if !word.is_empty() {
                words.push(word);
            }
            keep(words.join(" "), neg, true);
        }
        None => keep(word, negated, false),
    }
    dedup_case_insensitive(&mut terms);
    dedup_case_insensitive(&mut excluded);
    if terms.is_empty() {
        return Err(ApiError::validation(
            "q must contain a word to look for (letters or digits)",
        ));
    }
    Ok(ParsedQuery {
        text: text.to_owned(),
        terms,
        excluded,
    })
}

fn dedup_case_insensitive(words: &mut Vec<String>) {
    let mut seen = std::collections::HashSet::new();
    words.retain(|w| seen.insert(w.to_lowercase()));
}

/// `%word%` for ILIKE, with its wildcards and the escape character escaped.
fn like_pattern(word: &str) -> String {
    let mut p = String::with_capacity(word.len() + 2);
    p.push('%');
    for c in word.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// A page position: the last hit's score (its exact bits) and id.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cursor {
    pub score: f64,
    pub id: i64,
}

impl Cursor {
    pub fn encode(self) -> String {
        format!("{:016x}.{}", self.score.to_bits(), self.id)
    }

    /// 400 `invalid_cursor` for anything [`Cursor::encode`] did not make.
    pub fn decode(c: &str) -> ApiResult<Self> {
        let bad = || {
            ApiError::bad_request(
                protocol::ErrorCode::InvalidCursor,
                "cursor is not one this API returned",
            )
        };
        let (bits, id) = c.split_once('.').ok_or_else(bad)?;
        if bits.len() != 16 {
            return Err(bad());
        }
        let score = f64::from_bits(u64::from_str_radix(bits, 16).map_err(|_| bad())?);
        if !score.is_finite() {
            return Err(bad());
        }
        Ok(Cursor {
            score,
            id: id.parse().map_err(|_| bad())?,
        })
    }
}

#[derive(sqlx::FromRow)]
struct HitRow {
    id: i64,
    kind: String,
    session_id: Uuid,
    session_title: String,
    project_id: Option<Uuid>,
    run_id: Option<Uuid>,
    seq: Option<i64>,
    body: String,
    created_at: DateTime<Utc>,
    score: f64,
}

/// The two tiers of hits: whole-word matches (score 1 to 2.5) rank above substring-only ones
/// (score below 1), whatever their kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tier {
    /// Full-text matches: `1 + weight × min(1, 10 × ts_rank_cd(…, 1))` (cover density, divided
    /// by the log of the text's length).
    Words,
    /// Every word occurs as a substring, but the full-text query does not match:
    /// `weight × 0.6 / (1 + ln(1 + bytes / 200))`, shorter texts first.
    Substrings,
}

/// Scores at or above this are [`Tier::Words`]'.
const WORDS_TIER: f64 = 1.0;

/// The statement of one tier: at most `take` hits after `after`, best first, with their
/// session's title. The page is cut before the sessions are joined, so only its hits read them.
fn tier_query(
    tier: Tier,
    user: Uuid,
    q: &ParsedQuery,
    project: Option<Uuid>,
    after: Option<Cursor>,
    take: i64,
) -> QueryBuilder<Postgres> {
    let mut b = QueryBuilder::<Postgres>::new(
        "SELECT h.id, h.kind, h.session_id, s.title AS session_title, h.project_id, h.run_id,
                h.seq, h.body, h.created_at, h.score
           FROM (SELECT m.* FROM (
                   SELECT d.id, d.kind, d.session_id, d.project_id, d.run_id, d.seq, d.body,
                          d.created_at, ",
    );
    let weight = "(CASE d.kind WHEN 'title' THEN 1.5 WHEN 'prompt' THEN 1.2 ELSE 1.0 END)::float8";
    match tier {
        Tier::Words => {
            b.push(format_args!(
                "1.0 + {weight} * least(1.0, 10 * ts_rank_cd(d.tsv, websearch_to_tsquery('simple', "
            ));
            b.push_bind(&q.text);
            b.push("), 1)::float8) AS score FROM search_documents d WHERE d.user_id = ");
            b.push_bind(user);
            b.push(" AND d.tsv @@ websearch_to_tsquery('simple', ");
            b.push_bind(&q.text);
            b.push(")");
        }
        Tier::Substrings => {
            b.push(format_args!(
                "{weight} * 0.6 / (1.0 + ln(1.0 + octet_length(d.body)::float8 / 200.0)) AS score
                   FROM search_documents d WHERE d.user_id = "
            ));
            b.push_bind(user);
            for t in q.terms.iter().take(MAX_TERMS) {
                b.push(" AND d.body ILIKE ");
                b.push_bind(like_pattern(t));
            }
            for x in q.excluded.iter().take(MAX_TERMS) {
                b.push(" AND d.body NOT ILIKE ");
                b.push_bind(like_pattern(x));
            }
            b.push(" AND NOT d.tsv @@ websearch_to_tsquery('simple', ");
            b.push_bind(&q.text);
            b.push(")");
        }
    }
    if let Some(p) = project {
        b.push(" AND d.project_id = ");
        b.push_bind(p);
    }
    b.push(") m");
    if let Some(c) = after {
        b.push(" WHERE (m.score, m.id) < (");
        b.push_bind(c.score);
        b.push("::float8, ");
        b.push_bind(c.id);
        b.push(")");
    }
    b.push(" ORDER BY m.score DESC, m.id DESC LIMIT ");
    b.push_bind(take);
    b.push(
        ") h JOIN sessions s ON s.id = h.session_id
          ORDER BY h.score DESC, h.id DESC",
    );
    b
}

/// One page of `user`'s hits for `q`, best first (`limit` 1..=[`MAX_LIMIT`]): whole-word
/// matches first (the full-text index alone), then, once those are exhausted on this page,
/// substring-only ones (the trigram index).
pub async fn search(
    pool: &PgPool,
    user: Uuid,
    q: &ParsedQuery,
    project: Option<Uuid>,
    limit: i64,
    after: Option<Cursor>,
) -> ApiResult<SearchResults> {
    let limit = limit.clamp(1, MAX_LIMIT);
    let mut rows: Vec<HitRow> = Vec::new();
    let in_words = after.is_none_or(|c| c.score >= WORDS_TIER);
    if in_words {
        rows = tier_query(Tier::Words, user, q, project, after, limit + 1)
            .build_query_as()
            .fetch_all(pool)
            .await?;
    }
    if (rows.len() as i64) <= limit {
        let after = if in_words { None } else { after };
        // Planned for these values every time (an unnamed statement, never a cached generic
        // plan): a pattern with no trigram (`%数据%`, `%db%`) must not become an index
        // condition, which would read the whole trigram index; only a plan that sees the
        // pattern knows.
        let more: Vec<HitRow> = tier_query(
            Tier::Substrings,
            user,
            q,
            project,
            after,
            limit + 1 - rows.len() as i64,
        )
        .build_query_as()
        .persistent(false)
        .fetch_all(pool)
        .await?;
        rows.extend(more);
    }

    let has_more = rows.len() as i64 > limit;
    let mut hits = Vec::with_capacity(rows.len().min(limit as usize));
    let mut last = None;
    for r in rows.into_iter().take(limit as usize) {
        let kind: SearchHitKind = r
            .kind
            .parse()
            .map_err(|e: String| ApiError::Internal(format!("stored search document: {e}")))?;
        let (snippet, highlights) = snippet(&r.body, &q.terms);
        last = Some(Cursor {
            score: r.score,
            id: r.id,
        });
        hits.push(SearchHit {
            kind,
            session_id: r.session_id,
            session_title: r.session_title,
            project_id: r.project_id,
            run_id: r.run_id,
            seq: r.seq,
            snippet,
            highlights,
            score: r.score,
            created_at: r.created_at,
        });
    }
    Ok(SearchResults {
        hits,
        next_cursor: if has_more {
            last.map(Cursor::encode)
        } else {
            None
        },
    })
}

/// A text the ingester indexes: an `assistant_text` event's text or a `file_changes` event's
/// paths.
pub struct EventText {
    pub session_id: Uuid,
    pub seq: i64,
    pub run_id: Uuid,
    pub kind: SearchHitKind,
    pub body: String,
    pub time: DateTime<Utc>,
}

impl EventText {
    /// The searchable text of an event, if it has one.
    pub fn of(
        session_id: Uuid,
        seq: i64,
        run_id: Uuid,
        e: &protocol::RunEvent,
    ) -> Option<EventText> {
        let (kind, body) = match &e.body {
            protocol::EventBody::AssistantText { text, .. } => {
                (SearchHitKind::Assistant, capped(text))
            }
            protocol::EventBody::FileChanges { changes } => {
                let mut paths = String::new();
                for c in changes {
                    for p in c.old_path.iter().chain(std::iter::once(&c.path)) {
                        if !paths.is_empty() {
                            paths.push('\n');
                        }
                        paths.push_str(p);
                    }
                }
                (SearchHitKind::File, capped(&paths))
            }
            _ => return None,
        };
        if body.trim().is_empty() {
            return None;
        }
        Some(EventText {
            session_id,
            seq,
            run_id,
            kind,
            body,
            time: e.time,
        })
    }
}

/// The first [`MAX_INDEXED_CHARS`] characters.
fn capped(text: &str) -> String {
    match text.char_indices().nth(MAX_INDEXED_CHARS) {
        Some((at, _)) => text[..at].to_owned(),
        None => text.to_owned(),
    }
}

/// Stores the texts of events the caller's transaction just inserted (one statement).
pub async fn index_events(
    tx: &mut Transaction<'_, Postgres>,
    texts: &[EventText],
) -> Result<(), sqlx::Error> {
    if texts.is_empty() {
        return Ok(());
    }
    let session: Vec<Uuid> = texts.iter().map(|t| t.session_id).collect();
    let seq: Vec<i64> = texts.iter().map(|t| t.seq).collect();
    let run: Vec<Uuid> = texts.iter().map(|t| t.run_id).collect();
    let kind: Vec<&str> = texts.iter().map(|t| t.kind.as_str()).collect();
    let body: Vec<&str> = texts.iter().map(|t| t.body.as_str()).collect();
    let time: Vec<DateTime<Utc>> = texts.iter().map(|t| t.time).collect();
    sqlx::query(
        "INSERT INTO search_documents (user_id, session_id, project_id, run_id, seq, kind, body,
                                       created_at)
         SELECT s.user_id, x.session_id, s.project_id, x.run_id, x.seq, x.kind, x.body, x.time
           FROM UNNEST($1::uuid[], $2::bigint[], $3::uuid[], $4::text[], $5::text[],
                       $6::timestamptz[]) AS x(session_id, seq, run_id, kind, body, time)
           JOIN sessions s ON s.id = x.session_id",
    )
    .bind(&session)
    .bind(&seq)
    .bind(&run)
    .bind(&kind)
    .bind(&body)
    .bind(&time)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Case folding for matching: the lowercase of a character when it is one character.
fn fold(c: char) -> char {
    let mut l = c.to_lowercase();
    match (l.next(), l.next()) {
        (Some(f), None) => f,
        _ => c,
    }
}

/// Every match of a term in `hay` (folded), as char ranges, sorted and merged.
fn matches(hay: &[char], terms: &[Vec<char>]) -> Vec<(usize, usize)> {
    let mut found = Vec::new();
    for t in terms.iter().filter(|t| !t.is_empty()) {
        if t.len() > hay.len() {
            continue;
        }
        let mut i = 0;
        while i + t.len() <= hay.len() {
            if hay[i..i + t.len()] == t[..] {
                found.push((i, i + t.len()));
                i += t.len();
            } else {
                i += 1;
            }
        }
    }
    found.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(found.len());
    for (s, e) in found {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    merged
}

/// The first char index where a term occurs, if any.
fn first_match(hay: &[char], terms: &[Vec<char>]) -> Option<usize> {
    let mut best: Option<usize> = None;
    for t in terms
        .iter()
        .filter(|t| !t.is_empty() && t.len() <= hay.len())
    {
        let limit = best.map_or(hay.len() - t.len(), |b| b.min(hay.len() - t.len()));
        if let Some(i) = (0..=limit).find(|&i| hay[i..i + t.len()] == t[..]) {
            best = Some(best.map_or(i, |b| b.min(i)));
        }
    }
    best
}

/// A plain-text stretch of `body` around its first match of `terms` (whitespace runs as one
/// space, `…` where cut) and the matches in it as half-open UTF-16 ranges.
pub fn snippet(body: &str, terms: &[String]) -> (String, Vec<[u32; 2]>) {
    let chars: Vec<char> = body.chars().collect();
    let folded_body: Vec<char> = chars.iter().map(|&c| fold(c)).collect();
    let folded_terms: Vec<Vec<char>> = terms
        .iter()
        .map(|t| t.chars().map(fold).collect())
        .collect();
    let at = first_match(&folded_body, &folded_terms).unwrap_or(0);

    let mut start = at.saturating_sub(SNIPPET_BEFORE);
    // Start after a space when there is one before the match (no cut word).
    if start > 0
        && let Some(ws) = chars[start..at].iter().position(|c| c.is_whitespace())
    {
        start += ws + 1;
    }
    let mut end = (start + SNIPPET_CHARS).min(chars.len());
    if end < chars.len() {
        // End at a space when there is one near the end and after the match.
        let floor = (at + 1).max(end.saturating_sub(30));
        if let Some(ws) = chars[floor..end].iter().rposition(|c| c.is_whitespace()) {
            end = floor + ws;
        }
    }

    let mut text = String::new();
    let mut pending_space = false;
    for &c in &chars[start..end] {
        if c.is_whitespace() {
            pending_space = !text.is_empty();
        } else {
            if pending_space {
                text.push(' ');
                pending_space = false;
            }
            text.push(c);
        }
    }
    if start > 0 && !text.is_empty() {
        text.insert(0, '…');
    }
    if end < chars.len() {
        text.push('…');
    }

    let out: Vec<char> = text.chars().collect();
    let folded_out: Vec<char> = out.iter().map(|&c| fold(c)).collect();
    let ranges = matches(&folded_out, &folded_terms);
    // Char index → UTF-16 offset.
    let mut utf16 = Vec::with_capacity(out.len() + 1);
    let mut n = 0u32;
    for c in &out {
        utf16.push(n);
        n += c.len_utf16() as u32;
    }
    utf16.push(n);
    let highlights = ranges
        .into_iter()
        .map(|(s, e)| [utf16[s], utf16[e]])
        .collect();
    (text, highlights)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(q: &str) -> (Vec<String>, Vec<String>) {
        let p = parse_query(q).unwrap();
        (p.terms, p.excluded)
    }

    fn marked(text: &str, highlights: &[[u32; 2]]) -> String {
        let units: Vec<u16> = text.encode_utf16().collect();
        let mut out = String::new();
        let mut at = 0usize;
        for [s, e] in highlights {
            out.push_str(&String::from_utf16_lossy(&units[at..*s as usize]));
            out.push('[');
            out.push_str(&String::from_utf16_lossy(&units[*s as usize..*e as usize]));
            out.push(']');
            at = *e as usize;
        }
        out.push_str(&String::from_utf16_lossy(&units[at..]));
        out
    }

    #[test]
    fn queries_split_into_required_and_excluded_words() {
        assert_eq!(
            terms("  \"Retry  backoff\" -flaky or  deploy, -\"old plan\" \"unclosed  end"),
            (
                vec![
                    "Retry backoff".into(),
                    "deploy".into(),
                    "unclosed end".into()
                ],
                vec!["flaky".into(), "old plan".into()]
            )
        );
        assert_eq!(terms("数据库 连接").0, vec!["数据库", "连接"]);
        assert_eq!(terms("a-b OR").0, vec!["a-b"]);
        assert_eq!(terms("\"or\"").0, vec!["or"]);
        for bad in ["", "   ", "-only", "...", "a\0b"] {
            assert!(parse_query(bad).is_err(), "{bad:?}");
        }
        assert!(parse_query(&"x".repeat(MAX_QUERY_CHARS + 1)).is_err());
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
    }

    #[test]
    fn cursors_round_trip_and_refuse_forgeries() {
        let c = Cursor {
            score: 0.123_456_789_012_345_67,
            id: 42,
        };
        assert_eq!(Cursor::decode(&c.encode()).unwrap(), c);
        for bad in [
            "",
            "1.2",
            "zzzzzzzzzzzzzzzz.1",
            "7ff8000000000000.1",
            "3ff0000000000000.x",
        ] {
            assert!(Cursor::decode(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn snippets_are_plain_text_with_utf16_highlights() {
        let (s, h) = snippet(
            "Fix the RETRY backoff\n\n in uploads",
            &["retry".into(), "Backoff".into()],
        );
        assert_eq!(s, "Fix the RETRY backoff in uploads");
        assert_eq!(marked(&s, &h), "Fix the [RETRY] [backoff] in uploads");

        // Characters outside the BMP count two UTF-16 units.
        let (s, h) = snippet("🚀 我们需要修复数据库连接问题", &["数据库".into()]);
        assert_eq!(h, vec![[9, 12]]);
        assert_eq!(marked(&s, &h), "🚀 我们需要修复[数据库]连接问题");

        // A long text is cut around the first match, at spaces, with ellipses.
        let long = format!("{} needle {}", "word ".repeat(100), "tail ".repeat(100));
        let (s, h) = snippet(&long, &["needle".into()]);
        assert!(s.starts_with("…word") && s.ends_with("…"), "{s}");
        assert!(s.chars().count() <= SNIPPET_CHARS + 2, "{s}");
        assert_eq!(h.len(), 1);
        assert!(marked(&s, &h).contains("[needle]"));

        // Overlapping matches merge; no match leaves the start of the text unmarked.
        let (s, h) = snippet("abcabc", &["abca".into(), "cab".into()]);
        assert_eq!(marked(&s, &h), "[abcab]c");
        let (s, h) = snippet("nothing here", &["zzz".into()]);
        assert_eq!((s.as_str(), h.len()), ("nothing here", 0));
    }

    #[test]
    fn texts_are_capped() {
        let t = "é".repeat(MAX_INDEXED_CHARS + 5);
        assert_eq!(capped(&t).chars().count(), MAX_INDEXED_CHARS);
    }
}
