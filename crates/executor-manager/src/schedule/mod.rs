//! Schedules on the manager's side: the file `SCHEDULE_CONFIG_PATH` (TOML or JSON, by extension)
//! says which run kinds this manager pulls and when, and whether it fires users' scheduled tasks;
//! [`fire_loop`] asks the backend to fire due tasks every `fire_interval_seconds`.
//!
//! ```toml
//! fire_schedules = true          # call the backend's fire route (default true)
//! fire_interval_seconds = 5      # how often (default 5)
//!
//! [[pull]]                       # no [[pull]] at all: every kind, always
//! kind = "interactive"
//! interval_seconds = 0           # 0: always (long poll)
//!
//! [[pull]]
//! kind = "scheduled"
//! cron_window = "0 1-5 * * *"    # only in the hours this expression fires in: 01:00-05:59
//! timezone = "UTC"
//! ```
//!
//! A kind listed with `interval_seconds = N > 0` is looked for once every N seconds (a quick
//! claim, no long poll) and taken as long as there is some; a kind not listed is never pulled.
//!
//! The file may instead be in the format of the previous platform (top-level `enabled`,
//! `schedule_modes`, `rules`; see `schedule/legacy.rs`), which is mapped onto the same
//! [`PullPolicy`]. A file is in one format or the other: keys of both are an error.
//!
//! The file is read once at start-up; anything wrong stops the process with one line naming
//! `SCHEDULE_CONFIG_PATH` and the problem.

mod legacy;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Timelike, Utc};
use protocol::cron::CronSchedule;
use protocol::schedule::RunKind;
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use crate::backend::BackendClient;

/// Tasks asked for per fire call; a full answer is followed by another call at once.
pub const FIRE_BATCH: u32 = 100;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default = "default_true")]
    fire_schedules: bool,
    #[serde(default = "default_fire_interval")]
    fire_interval_seconds: u64,
    #[serde(default)]
    pull: Option<Vec<PullEntry>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PullEntry {
    kind: RunKind,
    #[serde(default)]
    interval_seconds: Option<u64>,
    #[serde(default)]
    cron_window: Option<String>,
    #[serde(default)]
    timezone: Option<String>,
}

fn default_true() -> bool {
    true
}

fn default_fire_interval() -> u64 {
    5
}

/// The manager's schedule settings, validated.
#[derive(Debug)]
pub struct ScheduleConfig {
    pub fire_schedules: bool,
    pub fire_interval: Duration,
    pub pull: Arc<PullPolicy>,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        Self {
            fire_schedules: true,
            fire_interval: Duration::from_secs(default_fire_interval()),
            pull: Arc::new(PullPolicy::everything()),
        }
    }
}

impl ScheduleConfig {
    /// Reads the file at `path` (none: the defaults). The error is the problem, without the
    /// variable's name (the caller adds it).
    pub fn load(path: Option<&Path>) -> Result<Self, String> {
        let Some(path) = path else {
            return Ok(Self::default());
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        let format = match ext.as_deref() {
            Some("toml") => Format::Toml,
            Some("json") => Format::Json,
            _ => {
                return Err(format!("{} must end in .toml or .json", path.display()));
            }
        };
        Self::parse(&text, format).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Parses a file in either format (see the module's documentation).
    pub fn parse(text: &str, format: Format) -> Result<Self, String> {
        let keys = top_level_keys(text, format);
        let present = |candidates: &[&'static str]| -> Vec<&'static str> {
            candidates
                .iter()
                .filter(|c| keys.iter().any(|k| k == *c))
                .copied()
                .collect()
        };
        let legacy_keys = present(&legacy::KEYS);
        if legacy_keys.is_empty() {
            return Self::parse_current(text, format);
        }
        let current_keys = present(&CURRENT_KEYS);
        if !current_keys.is_empty() {
            return Err(format!(
                "keys of the previous platform's format ({}) and of the current format ({}) cannot be mixed: a file is in one format or the other",
                quoted(&legacy_keys),
                quoted(&current_keys)
            ));
        }
        legacy::parse(text, format)
    }

    fn parse_current(text: &str, format: Format) -> Result<Self, String> {
        let file: FileConfig = match format {
            Format::Toml => toml::from_str(text).map_err(|e| one_line(&e.to_string()))?,
            Format::Json => serde_json::from_str(text).map_err(|e| e.to_string())?,
        };
        if !(1..=3600).contains(&file.fire_interval_seconds) {
            return Err("fire_interval_seconds must be between 1 and 3600".into());
        }
        let rules = match file.pull {
            None => None,
            Some(entries) => {
                let mut rules: Vec<Rule> = Vec::new();
                for e in entries {
                    let kind = e.kind.as_str();
                    if rules.iter().any(|r| r.kind == e.kind) {
                        return Err(format!("pull: kind `{kind}` is listed twice"));
                    }
                    let when = match (e.interval_seconds, e.cron_window) {
                        (Some(_), Some(_)) => {
                            return Err(format!(
                                "pull `{kind}`: give interval_seconds or cron_window, not both"
                            ));
                        }
                        (Some(0), None) | (None, None) => {
                            if e.timezone.is_some() {
                                return Err(format!(
                                    "pull `{kind}`: timezone only goes with cron_window"
                                ));
                            }
                            When::Always
                        }
                        (Some(n), None) => {
                            if e.timezone.is_some() {
                                return Err(format!(
                                    "pull `{kind}`: timezone only goes with cron_window"
                                ));
                            }
                            When::Every(Duration::from_secs(n))
                        }
                        (None, Some(expr)) => {
                            let tz = e.timezone.as_deref().unwrap_or("UTC");
                            When::Window(
                                CronSchedule::parse(&expr, tz)
                                    .map_err(|err| format!("pull `{kind}`: {err}"))?,
                            )
                        }
                    };
                    rules.push(Rule { kind: e.kind, when });
                }
                Some(rules)
            }
        };
        Ok(Self {
            fire_schedules: file.fire_schedules,
            fire_interval: Duration::from_secs(file.fire_interval_seconds),
            pull: Arc::new(PullPolicy {
                rules,
                next_check: Mutex::new(HashMap::new()),
            }),
        })
    }
}

/// The current format's top-level keys (the previous platform's are [`legacy::KEYS`]).
const CURRENT_KEYS: [&str; 3] = ["pull", "fire_schedules", "fire_interval_seconds"];

/// The keys of the file's top-level table; none when it is not a table at all (the current
/// format's parser then says what is wrong).
fn top_level_keys(text: &str, format: Format) -> Vec<String> {
    match format {
        Format::Toml => toml::from_str::<toml::Table>(text)
            .map(|t| t.keys().cloned().collect())
            .unwrap_or_default(),
        Format::Json => serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(text)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default(),
    }
}

/// `a`, `b`, `c`.
fn quoted(keys: &[&str]) -> String {
    let q: Vec<String> = keys.iter().map(|k| format!("`{k}`")).collect();
    q.join(", ")
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The file's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Toml,
    Json,
}

#[derive(Debug)]
enum When {
    Always,
    Every(Duration),
    Window(CronSchedule),
    /// The previous platform's rules for a kind: inside any of `windows` like `Always`; outside
    /// them like `Every` when there is an interval, else not pulled.
    Clock {
        windows: Vec<legacy::ClockWindow>,
        outside: Option<Duration>,
    },
}

impl When {
    /// The interval of a kind that is looked for now and then (outside its windows).
    fn interval(&self) -> Option<Duration> {
        match self {
            When::Every(d) => Some(*d),
            When::Clock { outside, .. } => *outside,
            When::Always | When::Window(_) => None,
        }
    }
}

/// How a kind is pulled at one instant.
enum Pull {
    /// Through the long poll.
    Listen,
    /// A look once per interval.
    Look,
    /// Not at all.
    Closed,
}

#[derive(Debug)]
struct Rule {
    kind: RunKind,
    when: When,
}

/// Which kinds a claim asks for, now.
#[derive(Debug)]
pub struct PullPolicy {
    /// `None`: every kind, always.
    rules: Option<Vec<Rule>>,
    /// Interval kinds: not looked for again before this time.
    next_check: Mutex<HashMap<RunKind, DateTime<Utc>>>,
}

/// One claim's parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimPlan {
    /// `None`: every kind.
    pub kinds: Option<Vec<RunKind>>,
    pub wait_seconds: u32,
    /// Interval kinds this claim looks for.
    checked: Vec<RunKind>,
}

impl PullPolicy {
    pub fn everything() -> Self {
        Self {
            rules: None,
            next_check: Mutex::new(HashMap::new()),
        }
    }

    /// Exactly the kinds of `rules`, each as its rule says.
    fn of_rules(rules: Vec<Rule>) -> Self {
        Self {
            rules: Some(rules),
            next_check: Mutex::new(HashMap::new()),
        }
    }

    /// What a claim made at `now` asks for, and how long it may wait: never past the moment the
    /// answer would change (a window opening or closing, an interval coming round).
    pub fn plan(&self, now: DateTime<Utc>, wait_seconds: u32) -> ClaimPlan {
        let Some(rules) = &self.rules else {
            return ClaimPlan {
                kinds: None,
                wait_seconds,
                checked: Vec::new(),
            };
        };
        let next_check = self
            .next_check
            .lock()
            .map(|m| m.clone())
            .unwrap_or_default();
        let mut kinds = Vec::new();
        let mut checked = Vec::new();
        let mut wait = u64::from(wait_seconds);
        for rule in rules {
            let pull = match &rule.when {
                When::Always => Pull::Listen,
                When::Window(w) => {
                    wait = wait.min(secs_until_quarter_hour(now));
                    if w.fires_in_hour_of(now) {
                        Pull::Listen
                    } else {
                        Pull::Closed
                    }
                }
                When::Every(_) => Pull::Look,
                When::Clock { windows, outside } => {
                    // Windows open and close on the minute (in every zone of today).
                    wait = wait.min(secs_until_minute(now));
                    if windows.iter().any(|w| w.contains(now)) {
                        Pull::Listen
                    } else if outside.is_some() {
                        Pull::Look
                    } else {
                        Pull::Closed
                    }
                }
            };
            match pull {
                Pull::Listen => kinds.push(rule.kind),
                Pull::Closed => {}
                Pull::Look => match next_check.get(&rule.kind) {
                    Some(at) if *at > now => {
                        wait =
                            wait.min(((*at - now).num_milliseconds().max(0) as u64).div_ceil(1000));
                    }
                    _ => {
                        kinds.push(rule.kind);
                        checked.push(rule.kind);
                    }
                },
            }
        }
        if !checked.is_empty() {
            // A look, not a long poll: an interval kind must not be listened for meanwhile.
            wait = 0;
        } else if kinds.is_empty() {
            wait = wait.max(1);
        }
        let kinds = if kinds.len() == RunKind::ALL.len() {
            None
        } else {
            Some(kinds)
        };
        ClaimPlan {
            kinds,
            wait_seconds: u32::try_from(wait).unwrap_or(wait_seconds),
            checked,
        }
    }

    /// After a claim answered with runs of the kinds `got`: interval kinds it found nothing of
    /// are next looked for an interval later; one that yielded a run is looked for again at once.
    pub fn answered(&self, plan: &ClaimPlan, now: DateTime<Utc>, got: &[RunKind]) {
        let Some(rules) = &self.rules else { return };
        let Ok(mut next) = self.next_check.lock() else {
            return;
        };
        for rule in rules {
            if let Some(d) = rule.when.interval()
                && plan.checked.contains(&rule.kind)
                && !got.contains(&rule.kind)
            {
                let d = chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX);
                next.insert(rule.kind, now + d);
            }
        }
    }
}

/// Seconds to the next quarter hour (every time zone's hours start on one), at least 1.
fn secs_until_quarter_hour(now: DateTime<Utc>) -> u64 {
    let into = u64::from(now.minute() % 15) * 60 + u64::from(now.second());
    (900 - into).max(1)
}

/// Seconds to the next minute, at least 1.
fn secs_until_minute(now: DateTime<Utc>) -> u64 {
    (60 - u64::from(now.second())).max(1)
}

/// Asks the backend to fire due scheduled tasks every `interval` until `stop`.
pub async fn fire_loop(
    backend: BackendClient,
    worker_id: String,
    interval: Duration,
    stop: CancellationToken,
) {
    tracing::info!(
        interval_seconds = interval.as_secs(),
        "firing scheduled tasks"
    );
    loop {
        let pause = match backend.fire(&worker_id, FIRE_BATCH).await {
            Ok(res) => {
                for f in &res.fired {
                    tracing::info!(scheduled_task_id = %f.scheduled_task_id, run_id = %f.run_id, "fired a scheduled task");
                }
                if res.fired.len() as u32 >= FIRE_BATCH {
                    Duration::ZERO
                } else {
                    interval
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "firing scheduled tasks failed; retrying");
                interval
            }
        };
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(pause) => {}
        }
    }
    tracing::info!("stopped firing scheduled tasks");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn toml(text: &str) -> Result<ScheduleConfig, String> {
        ScheduleConfig::parse(text, Format::Toml)
    }

    #[test]
    fn no_file_pulls_everything_and_fires() {
        let c = ScheduleConfig::load(None).unwrap();
        assert!(c.fire_schedules);
        assert_eq!(c.fire_interval, Duration::from_secs(5));
        let p = c.pull.plan(Utc::now(), 30);
        assert_eq!(p.kinds, None);
        assert_eq!(p.wait_seconds, 30);
    }

    #[test]
    fn windows_open_and_close_with_the_hours_of_the_expression() {
        let c = toml(
            r#"
            fire_schedules = false
            [[pull]]
            kind = "interactive"
            interval_seconds = 0
            [[pull]]
            kind = "scheduled"
            cron_window = "0 1-5 * * *"
            timezone = "UTC"
            "#,
        )
        .unwrap();
        assert!(!c.fire_schedules);
        // Outside the window: interactive only, and the long poll ends at the quarter hour.
        let p = c.pull.plan(utc("2026-03-01T00:58:30Z"), 30);
        assert_eq!(p.kinds, Some(vec![RunKind::Interactive]));
        assert_eq!(p.wait_seconds, 30);
        let p = c.pull.plan(utc("2026-03-01T00:59:50Z"), 30);
        assert_eq!(p.wait_seconds, 10);
        // Inside: both kinds, i.e. all.
        let p = c.pull.plan(utc("2026-03-01T03:20:00Z"), 30);
        assert_eq!(p.kinds, None);
        let p = c.pull.plan(utc("2026-03-01T06:00:00Z"), 30);
        assert_eq!(p.kinds, Some(vec![RunKind::Interactive]));
    }

    #[test]
    fn only_listed_kinds_are_pulled_and_outside_every_window_nothing_is() {
        let c = ScheduleConfig::parse(
            r#"{"pull": [{"kind": "scheduled", "cron_window": "* 22-23 * * *", "timezone": "Europe/Berlin"}]}"#,
            Format::Json,
        )
        .unwrap();
        // 12:00 UTC = 13:00 in Berlin: closed, nothing to ask for, but no busy loop either.
        let p = c.pull.plan(utc("2026-03-01T12:00:00Z"), 0);
        assert_eq!(p.kinds, Some(vec![]));
        assert_eq!(p.wait_seconds, 1);
        // 21:30 UTC = 22:30 CET: open.
        let p = c.pull.plan(utc("2026-03-01T21:30:00Z"), 30);
        assert_eq!(p.kinds, Some(vec![RunKind::Scheduled]));
    }

    #[test]
    fn interval_kinds_are_looked_for_once_per_interval() {
        let c = toml(
            r#"
            [[pull]]
            kind = "interactive"
            [[pull]]
            kind = "scheduled"
            interval_seconds = 60
            "#,
        )
        .unwrap();
        let t0 = utc("2026-03-01T12:00:00Z");
        let p = c.pull.plan(t0, 30);
        assert_eq!(p.kinds, None);
        assert_eq!(p.wait_seconds, 0, "a look, not a long poll");
        // It found a scheduled run: look again at once.
        c.pull.answered(&p, t0, &[RunKind::Scheduled]);
        let p = c.pull.plan(t0, 30);
        assert_eq!(p.kinds, None);
        // Nothing of that kind: not before a minute later; the long poll ends then.
        c.pull.answered(&p, t0, &[]);
        let t1 = t0 + chrono::Duration::seconds(45);
        let p = c.pull.plan(t1, 30);
        assert_eq!(p.kinds, Some(vec![RunKind::Interactive]));
        assert_eq!(p.wait_seconds, 15);
        let p = c.pull.plan(t0 + chrono::Duration::seconds(60), 30);
        assert_eq!(p.kinds, None);
    }

    #[test]
    fn the_documented_example_file_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/schedule.example.toml");
        let c = ScheduleConfig::load(Some(&path)).unwrap();
        assert!(c.fire_schedules);
        let night = c.pull.plan(utc("2026-03-01T02:00:00Z"), 30);
        assert_eq!(night.kinds, None);
        let day = c.pull.plan(utc("2026-03-01T12:00:00Z"), 30);
        assert_eq!(day.kinds, Some(vec![RunKind::Interactive]));

        // The previous platform's format: scheduled runs listened for on weekdays 01:00-06:00
        // Berlin time, looked for every ten minutes otherwise.
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/schedule.legacy.example.toml");
        let c = ScheduleConfig::load(Some(&path)).unwrap();
        assert!(c.fire_schedules);
        assert_eq!(c.fire_interval, Duration::from_secs(5));
        // Monday 2026-03-02 02:00 CET: in the window.
        let night = c.pull.plan(utc("2026-03-02T01:00:00Z"), 30);
        assert_eq!((night.kinds, night.wait_seconds), (None, 30));
        // Sunday 02:00 CET: not on its days; a look at the scheduled kind, then none for 600 s.
        let t = utc("2026-03-01T01:00:00Z");
        let look = c.pull.plan(t, 30);
        assert_eq!((look.kinds.clone(), look.wait_seconds), (None, 0));
        c.pull.answered(&look, t, &[]);
        let p = c.pull.plan(t + chrono::Duration::seconds(30), 30);
        assert_eq!(p.kinds, Some(vec![RunKind::Interactive]));
    }

    #[test]
    fn bad_files_say_what_is_wrong() {
        for (text, says) in [
            ("pull = [{ kind = \"batch\" }]", "unknown variant"),
            (
                "pull = [{ kind = \"scheduled\", cron_window = \"0 1-5 * *\" }]",
                "five fields",
            ),
            (
                "pull = [{ kind = \"scheduled\", cron_window = \"0 1 * * *\", timezone = \"Moon/Base\" }]",
                "IANA",
            ),
            (
                "pull = [{ kind = \"scheduled\", interval_seconds = 5, cron_window = \"0 1 * * *\" }]",
                "not both",
            ),
            (
                "pull = [{ kind = \"scheduled\", interval_seconds = 5, timezone = \"UTC\" }]",
                "timezone only",
            ),
            (
                "pull = [{ kind = \"scheduled\" }, { kind = \"scheduled\" }]",
                "twice",
            ),
            (
                "pull = [{ kind = \"scheduled\", window = \"x\" }]",
                "unknown field",
            ),
            ("fire_interval_seconds = 0", "between 1 and 3600"),
            ("fire_schedules = \"yes\"", "invalid type"),
            ("this is not toml", "expected"),
        ] {
            let e = toml(text).unwrap_err();
            assert!(e.contains(says), "{text}: {e}");
            assert!(!e.contains('\n'), "one line: {e}");
        }
        let dir = tempfile::tempdir().unwrap();
        let yaml = dir.path().join("schedule.yaml");
        std::fs::write(&yaml, "pull: []").unwrap();
        assert!(
            ScheduleConfig::load(Some(&yaml))
                .unwrap_err()
                .contains(".toml or .json")
        );
        let missing = dir.path().join("missing.toml");
        assert!(
            ScheduleConfig::load(Some(&missing))
                .unwrap_err()
                .contains("cannot read")
        );
        let json = dir.path().join("schedule.json");
        std::fs::write(&json, r#"{"fire_schedules": false, "pull": []}"#).unwrap();
        let c = ScheduleConfig::load(Some(&json)).unwrap();
        assert!(!c.fire_schedules);
        assert_eq!(c.pull.plan(Utc::now(), 5).kinds, Some(vec![]));
    }
}
