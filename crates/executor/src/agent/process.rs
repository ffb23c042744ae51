//! Process plumbing for the agent: bounded line reading, the stderr tail, and stopping a process
//! tree.
//!
//! The CLI starts in its own process group, but its Bash tool puts each command in a new session
//! (`setsid`), out of reach of a signal to the group. Stopping therefore works on the whole tree:
//! the descendants are listed from `/proc` (pid, parent, start time) while the CLI is alive, and
//! each one is killed later only if its start time still matches, so a recycled pid is never hit.

use std::collections::{HashMap, VecDeque};
use std::io;

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

/// One line of output, or the start of a line that was too long.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    Text(String),
    TooLong { start: String, len: usize },
}

/// Reads newline-terminated lines, never holding more than `max` bytes of one line. Invalid UTF-8
/// is replaced, not fatal. [`LineReader::next_line`] is cancel-safe: partial progress is kept in
/// the reader.
pub struct LineReader<R> {
    inner: BufReader<R>,
    max: usize,
    buf: Vec<u8>,
    /// Bytes of the current line beyond `max`, dropped.
    overflow: usize,
}

impl<R: AsyncRead + Unpin> LineReader<R> {
    pub fn new(inner: R, max: usize) -> Self {
        Self {
            inner: BufReader::with_capacity(64 * 1024, inner),
            max,
            buf: Vec::new(),
            overflow: 0,
        }
    }

    /// The next line without its newline; `None` at the end of the stream.
    pub async fn next_line(&mut self) -> io::Result<Option<Line>> {
        loop {
            let available = self.inner.fill_buf().await?;
            if available.is_empty() {
                if self.buf.is_empty() && self.overflow == 0 {
                    return Ok(None);
                }
                return Ok(Some(self.take_line()));
            }
            let (chunk, found) = match available.iter().position(|b| *b == b'\n') {
                Some(i) => (&available[..i], Some(i + 1)),
                None => (available, None),
            };
            let room = self.max.saturating_sub(self.buf.len());
            let keep = chunk.len().min(room);
            self.buf.extend_from_slice(&chunk[..keep]);
            self.overflow += chunk.len() - keep;
            let used = found.unwrap_or(chunk.len());
            self.inner.consume(used);
            if found.is_some() {
                return Ok(Some(self.take_line()));
            }
        }
    }

    fn take_line(&mut self) -> Line {
        let text = String::from_utf8_lossy(&self.buf).into_owned();
        let len = self.buf.len() + self.overflow;
        let overflow = std::mem::take(&mut self.overflow);
        self.buf.clear();
        if overflow > 0 {
            Line::TooLong { start: text, len }
        } else {
            Line::Text(text)
        }
    }
}

/// The last lines of a stream, bounded in count and length.
#[derive(Debug, Default)]
pub struct Tail {
    lines: VecDeque<String>,
    max_lines: usize,
    max_line: usize,
}

impl Tail {
    pub fn new(max_lines: usize, max_line: usize) -> Self {
        Self {
            lines: VecDeque::with_capacity(max_lines),
            max_lines,
            max_line,
        }
    }

    pub fn push(&mut self, line: &str) {
        let line = line.trim_end();
        if line.is_empty() {
            return;
        }
        if self.lines.len() == self.max_lines {
            self.lines.pop_front();
        }
        self.lines
            .push_back(super::stream::truncate(line, self.max_line));
    }

    pub fn lines(&self) -> impl Iterator<Item = &str> {
        self.lines.iter().map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }
}

/// Reads a stream to its end, keeping its tail and logging each line at debug level.
pub async fn collect_tail<R: AsyncRead + Unpin>(stream: R, mut tail: Tail) -> Tail {
    let mut reader = LineReader::new(stream, 16 * 1024);
    loop {
        match reader.next_line().await {
            Ok(Some(Line::Text(line))) => {
                tracing::debug!(target: "executor::agent::stderr", "{line}");
                tail.push(&line);
            }
            Ok(Some(Line::TooLong { start, .. })) => tail.push(&start),
            Ok(None) => break,
            Err(e) => {
                tracing::debug!(error = %e, "agent stderr read failed");
                break;
            }
        }
    }
    tail
}

/// A process identified by pid and start time (clock ticks since boot), which together survive
/// pid reuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProcId {
    pub pid: i32,
    pub start: u64,
}

/// `(ppid, start time)` of a process, from `/proc/{pid}/stat`.
fn stat(pid: i32) -> Option<(i32, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

/// Parses the fields after the command name (which may hold spaces and parentheses).
fn parse_stat(text: &str) -> Option<(i32, u64)> {
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state): ppid is field 4, starttime field 22.
    let ppid = fields.get(1)?.parse().ok()?;
    let start = fields.get(19)?.parse().ok()?;
    Some((ppid, start))
}

/// The process `pid` and all its descendants, as they are now.
pub fn process_tree(root: i32) -> Vec<ProcId> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut children: HashMap<i32, Vec<(i32, u64)>> = HashMap::new();
    let mut root_start = None;
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        if let Some((ppid, start)) = stat(pid) {
            if pid == root {
                root_start = Some(start);
            }
            children.entry(ppid).or_default().push((pid, start));
        }
    }
    let Some(root_start) = root_start else {
        return Vec::new();
    };
    let mut out = vec![ProcId {
        pid: root,
        start: root_start,
    }];
    let mut i = 0;
    while i < out.len() {
        if let Some(kids) = children.get(&out[i].pid) {
            for &(pid, start) in kids {
                if !out.iter().any(|p| p.pid == pid) {
                    out.push(ProcId { pid, start });
                }
            }
        }
        i += 1;
    }
    out
}

/// Sends `signal` to each process still alive with the same start time. Returns how many were hit.
pub fn signal_all(procs: &[ProcId], signal: Signal) -> usize {
    let mut hit = 0;
    for p in procs {
        if stat(p.pid).map(|(_, start)| start) == Some(p.start)
            && kill(Pid::from_raw(p.pid), signal).is_ok()
        {
            hit += 1;
        }
    }
    hit
}

/// Sends `signal` to a process group; a group that is gone is not an error.
pub fn signal_group(pgid: i32, signal: Signal) {
    if let Err(e) = killpg(Pid::from_raw(pgid), signal)
        && e != nix::errno::Errno::ESRCH
    {
        tracing::warn!(pgid, %signal, error = %e, "could not signal the agent's process group");
    }
}

/// Whether `process_tree` output contains a live process.
pub fn any_alive(procs: &[ProcId]) -> bool {
    procs
        .iter()
        .any(|p| stat(p.pid).map(|(_, s)| s) == Some(p.start) && !is_zombie(p.pid))
}

/// Whether `pid` is there and not a zombie (a process that died but was not reaped yet — which
/// `Child::try_wait` does not always report at once).
pub fn is_running(pid: i32) -> bool {
    pid > 0 && !is_zombie(pid)
}

fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|t| {
            let rest = &t[t.rfind(')')? + 1..];
            rest.split_whitespace().next().map(|s| s == "Z")
        })
        .unwrap_or(true)
}

/// Merges two process lists, keeping each process once.
pub fn merge(into: &mut Vec<ProcId>, more: Vec<ProcId>) {
    for p in more {
        if !into.contains(&p) {
            into.push(p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lines_are_split_bounded_and_lossy() {
        let data: &[u8] = b"one\ntwo\r\n\xffbad\n0123456789abcdef\nlast";
        let mut r = LineReader::new(data, 10);
        assert_eq!(r.next_line().await.unwrap(), Some(Line::Text("one".into())));
        assert_eq!(
            r.next_line().await.unwrap(),
            Some(Line::Text("two\r".into()))
        );
        assert_eq!(
            r.next_line().await.unwrap(),
            Some(Line::Text("\u{fffd}bad".into()))
        );
        assert_eq!(
            r.next_line().await.unwrap(),
            Some(Line::TooLong {
                start: "0123456789".into(),
                len: 16
            })
        );
        assert_eq!(
            r.next_line().await.unwrap(),
            Some(Line::Text("last".into()))
        );
        assert_eq!(r.next_line().await.unwrap(), None);
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        let mut t = Tail::new(2, 5);
        for l in ["a", "", "b", "c", "0123456789"] {
            t.push(l);
        }
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0], "c");
        assert!(lines[1].starts_with("01234"));
    }

    #[test]
    fn stat_parsing_survives_odd_command_names() {
        let text =
            "123 (a b) c)) S 45 123 123 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 98765 1000 10";
        assert_eq!(parse_stat(text), Some((45, 98765)));
    }

    #[test]
    fn the_tree_of_this_process_contains_it() {
        let me = std::process::id() as i32;
        let tree = process_tree(me);
        assert_eq!(tree.first().map(|p| p.pid), Some(me));
        assert!(any_alive(&tree));
    }
}
