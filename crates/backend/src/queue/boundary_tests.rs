//! The queue's boundary, checked on the sources: no module outside `queue/` writes `runs.status`
//! or a `runs.lease_*` column, and only `queue/enqueue.rs` inserts runs.
//!
//! A small reader of the SQL in Rust sources, not a parser: it lower-cases the text, drops
//! comments, string quotes and backslashes (so a statement split over `concat!` pieces reads as
//! one), collapses whitespace, and looks at every `UPDATE runs … SET …` clause (the assigned
//! columns, at the top level of the clause) and every `INSERT INTO runs`. Reads — `SELECT`s,
//! `WHERE status IN (…)`, `FOR UPDATE` — and writes to other tables (`run_exports`, `sessions`)
//! are not writes of `runs` and pass.

use std::path::{Path, PathBuf};

/// One write of `runs` found where it must not be.
#[derive(Debug, PartialEq, Eq)]
struct Finding {
    line: usize,
    what: String,
}

/// Source text as the reader sees it, with the line each character came from.
struct Squeezed {
    text: Vec<char>,
    lines: Vec<usize>,
}

fn squeeze(source: &str) -> Squeezed {
    let mut text = Vec::new();
    let mut lines = Vec::new();
    for (n, line) in source.lines().enumerate() {
        if line.trim_start().starts_with("//") {
            continue;
        }
        for c in line.chars().chain([' ']) {
            let c = match c {
                '"' | '\\' => ' ',
                c if c.is_whitespace() => ' ',
                c => c.to_ascii_lowercase(),
            };
            if c == ' ' && text.last() == Some(&' ') {
                continue;
            }
            text.push(c);
            lines.push(n + 1);
        }
    }
    Squeezed { text, lines }
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// `word` as a whole word at `at`.
fn word_at(text: &[char], at: usize, word: &str) -> bool {
    let w: Vec<char> = word.chars().collect();
    text.get(at..at + w.len()) == Some(&w[..])
        && (at == 0 || !is_ident(text[at - 1]))
        && text.get(at + w.len()).is_none_or(|c| !is_ident(*c))
}

/// Skips spaces from `at`.
fn skip_spaces(text: &[char], mut at: usize) -> usize {
    while text.get(at) == Some(&' ') {
        at += 1;
    }
    at
}

/// After `UPDATE` / `INSERT INTO` at `at`: the end of a `runs` table name (`runs`, `only runs`,
/// `public.runs`), if that is the table.
fn runs_table(text: &[char], at: usize) -> Option<usize> {
    let mut at = skip_spaces(text, at);
    if word_at(text, at, "only") {
        at = skip_spaces(text, at + "only".len());
    }
    if text[at..].starts_with(&['p', 'u', 'b', 'l', 'i', 'c', '.']) {
        at += "public.".len();
    }
    word_at(text, at, "runs").then_some(at + "runs".len())
}

/// The columns a `SET` clause starting at `at` assigns, at its top level: up to `WHERE`, `FROM`,
/// `RETURNING`, `;` or the parenthesis that closes an enclosing CTE.
fn assigned_columns(text: &[char], at: usize) -> Vec<String> {
    let mut columns = Vec::new();
    let mut item = String::new();
    let (mut depth, mut quoted) = (0i32, false);
    let mut i = at;
    let mut flush = |item: &mut String| {
        if let Some((left, _)) = item.split_once('=') {
            columns.extend(
                left.split(|c: char| !is_ident(c))
                    .filter(|w| !w.is_empty())
                    .map(str::to_owned),
            );
        }
        item.clear();
    };
    while let Some(&c) = text.get(i) {
        if quoted {
            quoted = c != '\'';
        } else if c == '\'' {
            quoted = true;
        } else if c == '(' {
            depth += 1;
        } else if c == ')' {
            depth -= 1;
            if depth < 0 {
                break;
            }
        } else if depth == 0
            && (c == ';'
                || word_at(text, i, "where")
                || word_at(text, i, "from")
                || word_at(text, i, "returning"))
        {
            break;
        } else if depth == 0 && c == ',' {
            flush(&mut item);
            i += 1;
            continue;
        }
        item.push(c);
        i += 1;
    }
    flush(&mut item);
    columns
}

/// Every write of `runs` in `source`: `UPDATE runs` assigning `status` or a `lease_*` column
/// (always), and `INSERT INTO runs` (unless `inserts_allowed`).
fn writes_of_runs(source: &str, inserts_allowed: bool) -> Vec<Finding> {
    let s = squeeze(source);
    let text = &s.text;
    let mut found = Vec::new();
    for i in 0..text.len() {
        if word_at(text, i, "update") {
            let Some(end) = runs_table(text, i + "update".len()) else {
                continue;
            };
            // An optional alias (`runs r`, `runs AS r`), then SET.
            let mut at = skip_spaces(text, end);
            if word_at(text, at, "as") {
                at = skip_spaces(text, at + 2);
            }
            if !word_at(text, at, "set") {
                while text.get(at).is_some_and(|c| is_ident(*c)) {
                    at += 1;
                }
                at = skip_spaces(text, at);
            }
            if !word_at(text, at, "set") {
                found.push(Finding {
                    line: s.lines[i],
                    what: "an UPDATE of runs this check cannot read".into(),
                });
                continue;
            }
            let written: Vec<String> = assigned_columns(text, at + "set".len())
                .into_iter()
                .filter(|c| c == "status" || c.starts_with("lease_"))
                .collect();
            if !written.is_empty() {
                found.push(Finding {
                    line: s.lines[i],
                    what: format!("UPDATE runs SET {}", written.join(", ")),
                });
            }
        } else if !inserts_allowed
            && word_at(text, i, "insert")
            && word_at(text, skip_spaces(text, i + "insert".len()), "into")
            && runs_table(text, skip_spaces(text, i + "insert".len()) + "into".len()).is_some()
        {
            found.push(Finding {
                line: s.lines[i],
                what: "INSERT INTO runs".into(),
            });
        }
    }
    found
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a readable source directory") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn only_the_queue_writes_run_status_and_leases() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let queue = src.join("queue");
    // This file's examples are writes on purpose.
    let this = queue.join("boundary_tests.rs");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 20, "the sources were not found under {src:?}");
    let mut offences = Vec::new();
    for file in files.iter().filter(|f| **f != this) {
        let source = std::fs::read_to_string(file).expect("a readable source file");
        let in_queue = file.starts_with(&queue);
        let inserts_allowed = *file == queue.join("enqueue.rs");
        for f in writes_of_runs(&source, inserts_allowed) {
            // Inside queue/, status and lease updates are the point; only inserts are confined.
            if in_queue && f.what.starts_with("UPDATE") {
                continue;
            }
            offences.push(format!(
                "{}:{}: {}",
                file.strip_prefix(&src).unwrap_or(file).display(),
                f.line,
                f.what
            ));
        }
    }
    assert!(
        offences.is_empty(),
        "runs.status and runs.lease_* are written only by crate::queue (and runs are inserted \
         only by queue::enqueue); move these into a queue function:\n{}",
        offences.join("\n")
    );
}

#[test]
fn the_reader_finds_writes_of_runs() {
    let writes = [
        r#"sqlx::query("UPDATE runs SET status = 'canceled' WHERE id = $1")"#,
        r#"sqlx::query("update runs r set lease_expires_at = now() where r.id = $1")"#,
        r#"sqlx::query("WITH c AS (UPDATE runs SET status = 'canceling'
                     WHERE session_id = $1 AND status IN ('claimed', 'running') RETURNING 1)
         SELECT count(*) FROM c")"#,
        r#"sqlx::query(concat!("UPDATE runs AS r SET error = 'x, (y)', ready = true,
                  ", "lease_holder = NULL WHERE id = $1"))"#,
        r#"sqlx::query("UPDATE runs SET (status, finished_at) = ('failed', now())")"#,
        r#"sqlx::query("UPDATE ONLY public.runs SET lease_epoch = lease_epoch + 1")"#,
        r#"sqlx::query("UPDATE runs SET ready = NOT EXISTS (SELECT 1 FROM runs WHERE x),
                        status = 'queued'")"#,
        r#"sqlx::query("INSERT INTO runs (id, session_id) VALUES ($1, $2)")"#,
    ];
    for w in writes {
        assert_eq!(writes_of_runs(w, false).len(), 1, "{w}");
    }
    assert_eq!(
        writes_of_runs(writes[0], false),
        vec![Finding {
            line: 1,
            what: "UPDATE runs SET status".into()
        }]
    );
    // Inserts are allowed where the caller says so; status updates never.
    assert!(writes_of_runs(writes[7], true).is_empty());
    assert_eq!(writes_of_runs(writes[0], true).len(), 1);
}

#[test]
fn the_reader_passes_reads_and_other_tables() {
    let fine = [
        r#"sqlx::query("SELECT status, lease_epoch FROM runs WHERE id = $1 FOR UPDATE")"#,
        r#"sqlx::query("SELECT count(*) FROM runs WHERE status IN ('claimed', 'running')")"#,
        r#"sqlx::query("UPDATE sessions SET status = $2, updated_at = now() WHERE id = $1")"#,
        r#"sqlx::query("INSERT INTO run_exports (run_id, epoch, status) VALUES ($1, $2, $3)
                        ON CONFLICT (run_id) DO UPDATE SET status = EXCLUDED.status")"#,
        r#"sqlx::query("UPDATE run_usage SET num_turns = 1 WHERE run_id = $1")"#,
        r#"sqlx::query("UPDATE runs SET ready = true WHERE status = 'queued'
                        RETURNING status, lease_epoch")"#,
        r#"sqlx::query("INSERT INTO run_attachments (run_id, position) SELECT id, 0 FROM runs")"#,
        "// UPDATE runs SET status = 'x' in a comment",
        "let updates = runs.len(); let status = 1;",
    ];
    for f in fine {
        assert_eq!(writes_of_runs(f, false), vec![], "{f}");
    }
}
