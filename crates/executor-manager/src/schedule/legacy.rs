//! The schedule file of the previous platform (the Python one this platform replaces), read so
//! that a user migrating keeps their `SCHEDULE_CONFIG_PATH` file. It is recognised by any of its
//! top-level keys ([`KEYS`]) and mapped onto the current [`PullPolicy`]:
//!
//! ```toml
//! enabled = true                 # false: pull nothing and fire nothing
//! [schedule_modes]               # per run kind: "always" (default) | "rules" | "never"
//! interactive = "always"
//! scheduled = "rules"
//!
//! [[rules]]                      # consulted for the kinds whose mode is "rules"
//! kind = "interval"              # looked for once every N seconds
//! interval_seconds = 600
//! applies_to = ["scheduled"]     # default: every kind whose mode is "rules"
//!
//! [[rules]]
//! kind = "window"                # pulled (long poll) from start to end, wall clock
//! start = "01:00"
//! end = "06:00"                  # exclusive; end < start wraps past midnight
//! days = ["mon", "tue", "wed", "thu", "fri"]   # default every day
//! timezone = "Europe/Berlin"     # default UTC
//! applies_to = ["scheduled"]
//! ```
//!
//! * `always` is the current format's `interval_seconds = 0`, `never` is a kind left out.
//! * `rules` with one interval rule and no window is the current format's
//!   `interval_seconds = N`; with windows the kind is pulled through the long poll inside any of
//!   them ([`ClockWindow`]) and, outside them, once per interval if it has an interval rule,
//!   else not at all.
//! * A rule naming a kind whose mode is not `rules` is not consulted for it.
//! * Schedules are fired every 5 seconds (the current format's defaults) unless `enabled` is
//!   false. A file with `enabled = false` is still checked in full.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Datelike, NaiveDateTime, Timelike, Utc};
use protocol::cron::parse_timezone;
use protocol::schedule::RunKind;
use serde::Deserialize;

use super::{Format, PullPolicy, Rule, ScheduleConfig, When, default_fire_interval, one_line};

/// The top-level keys that make a file one of the previous platform's.
pub(super) const KEYS: [&str; 3] = ["enabled", "rules", "schedule_modes"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LegacyFile {
    #[serde(default = "super::default_true")]
    enabled: bool,
    #[serde(default)]
    schedule_modes: Modes,
    #[serde(default)]
    rules: Vec<LegacyRule>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Modes {
    #[serde(default)]
    interactive: Option<Mode>,
    #[serde(default)]
    scheduled: Option<Mode>,
}

impl Modes {
    fn of(&self, kind: RunKind) -> Mode {
        match kind {
            RunKind::Interactive => self.interactive,
            RunKind::Scheduled => self.scheduled,
        }
        .unwrap_or(Mode::Always)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Mode {
    Always,
    Rules,
    Never,
}

/// One `[[rules]]` entry as written: the fields of both kinds, each checked against `kind` after
/// (a flat table rather than a tagged enum, so that the parsers' messages point at the field).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LegacyRule {
    kind: RuleKind,
    #[serde(default)]
    interval_seconds: Option<u64>,
    #[serde(default)]
    start: Option<String>,
    #[serde(default)]
    end: Option<String>,
    #[serde(default)]
    days: Option<Vec<String>>,
    #[serde(default)]
    timezone: Option<String>,
    #[serde(default)]
    applies_to: Option<Vec<RunKind>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum RuleKind {
    Interval,
    Window,
}

/// A rule, checked.
struct Checked {
    /// `None`: every kind whose mode is `rules`.
    applies_to: Option<Vec<RunKind>>,
    what: Allows,
}

enum Allows {
    Interval(Duration),
    Window(ClockWindow),
}

impl Checked {
    fn applies(&self, kind: RunKind, modes: &Modes) -> bool {
        match &self.applies_to {
            Some(kinds) => kinds.contains(&kind),
            None => modes.of(kind) == Mode::Rules,
        }
    }
}

/// Parses a file in the previous platform's format.
pub(super) fn parse(text: &str, format: Format) -> Result<ScheduleConfig, String> {
    let file: LegacyFile = match format {
        Format::Toml => toml::from_str(text).map_err(|e| one_line(&e.to_string()))?,
        Format::Json => serde_json::from_str(text).map_err(|e| e.to_string())?,
    };
    let checked = file
        .rules
        .into_iter()
        .enumerate()
        .map(|(i, r)| check(i + 1, r))
        .collect::<Result<Vec<_>, _>>()?;
    let modes = &file.schedule_modes;
    let mut rules = Vec::new();
    for kind in RunKind::ALL {
        let name = kind.as_str();
        let applying: Vec<(usize, &Checked)> = checked
            .iter()
            .enumerate()
            .filter(|(_, r)| r.applies(kind, modes))
            .map(|(i, r)| (i + 1, r))
            .collect();
        let intervals: Vec<(usize, Duration)> = applying
            .iter()
            .filter_map(|(i, r)| match r.what {
                Allows::Interval(d) => Some((*i, d)),
                Allows::Window(_) => None,
            })
            .collect();
        if let [(a, _), (b, _), ..] = intervals[..] {
            return Err(format!(
                "rules entries {a} and {b} are both interval rules for `{name}`: at most one interval rule per kind"
            ));
        }
        let when = match modes.of(kind) {
            Mode::Never => continue,
            Mode::Always => When::Always,
            Mode::Rules => {
                let windows: Vec<ClockWindow> = applying
                    .iter()
                    .filter_map(|(_, r)| match &r.what {
                        Allows::Window(w) => Some(w.clone()),
                        Allows::Interval(_) => None,
                    })
                    .collect();
                let outside = intervals.first().map(|(_, d)| *d);
                match (windows.is_empty(), outside) {
                    (true, None) => {
                        return Err(format!(
                            "schedule_modes.{name} is \"rules\" but no rule applies to it"
                        ));
                    }
                    (true, Some(d)) => When::Every(d),
                    (false, outside) => When::Clock { windows, outside },
                }
            }
        };
        rules.push(Rule { kind, when });
    }
    if !file.enabled {
        rules.clear();
    }
    Ok(ScheduleConfig {
        fire_schedules: file.enabled,
        fire_interval: Duration::from_secs(default_fire_interval()),
        pull: Arc::new(PullPolicy::of_rules(rules)),
    })
}

/// Checks the `n`th (from 1) rule.
fn check(n: usize, rule: LegacyRule) -> Result<Checked, String> {
    let (label, other) = match rule.kind {
        RuleKind::Interval => ("interval", "window"),
        RuleKind::Window => ("window", "interval"),
    };
    let at = format!("rules entry {n} ({label})");
    let misplaced = match rule.kind {
        RuleKind::Interval => [
            ("start", rule.start.is_some()),
            ("end", rule.end.is_some()),
            ("days", rule.days.is_some()),
            ("timezone", rule.timezone.is_some()),
        ]
        .into_iter()
        .find_map(|(field, given)| given.then_some(field)),
        RuleKind::Window => rule.interval_seconds.map(|_| "interval_seconds"),
    };
    if let Some(field) = misplaced {
        return Err(format!("{at}: {field} only goes with kind = \"{other}\""));
    }
    if rule.applies_to.as_ref().is_some_and(Vec::is_empty) {
        return Err(format!(
            "{at}: applies_to is empty; leave it out for every kind whose mode is \"rules\""
        ));
    }
    let what = match rule.kind {
        RuleKind::Interval => match rule.interval_seconds {
            None => return Err(format!("{at}: interval_seconds is missing")),
            Some(0) => return Err(format!("{at}: interval_seconds must be at least 1")),
            Some(secs) => Allows::Interval(Duration::from_secs(secs)),
        },
        RuleKind::Window => {
            Allows::Window(window(&at, rule.start, rule.end, rule.days, rule.timezone)?)
        }
    };
    Ok(Checked {
        applies_to: rule.applies_to,
        what,
    })
}

/// A window rule's fields, checked (`at` names the rule).
fn window(
    at: &str,
    start: Option<String>,
    end: Option<String>,
    days: Option<Vec<String>>,
    timezone: Option<String>,
) -> Result<ClockWindow, String> {
    let clock = |field: &str, value: Option<String>| {
        let value = value.ok_or_else(|| format!("{at}: {field} is missing"))?;
        minute_of_day(&value).ok_or_else(|| {
            format!("{at}: {field} `{value}` is not a 24-hour time HH:MM such as `06:30`")
        })
    };
    let (start, end) = (clock("start", start)?, clock("end", end)?);
    if start == end {
        return Err(format!(
            "{at}: start and end are both `{}`; a window must not be empty (an end before the start wraps past midnight)",
            hh_mm(start)
        ));
    }
    let days = match days {
        None => [true; 7],
        Some(names) if names.is_empty() => {
            return Err(format!("{at}: days is empty; leave it out for every day"));
        }
        Some(names) => {
            let mut days = [false; 7];
            for name in &names {
                let i = DAY_NAMES
                    .iter()
                    .position(|d| d.eq_ignore_ascii_case(name.trim()))
                    .ok_or_else(|| {
                        format!("{at}: day `{name}` is not one of {}", DAY_NAMES.join(", "))
                    })?;
                days[i] = true;
            }
            days
        }
    };
    let timezone = timezone.unwrap_or_else(|| "UTC".to_owned());
    let tz = parse_timezone(&timezone).map_err(|e| format!("{at}: {e}"))?;
    Ok(ClockWindow {
        start,
        end,
        days,
        timezone,
        wall_clock: Arc::new(move |at| at.with_timezone(&tz).naive_local()),
    })
}

/// Monday first, as [`chrono::Weekday::num_days_from_monday`] counts.
const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Minutes since midnight → `HH:MM`.
fn hh_mm(minutes: u32) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// `HH:MM` (two digits each, 00:00-23:59) → minutes since midnight.
fn minute_of_day(s: &str) -> Option<u32> {
    let (h, m) = s.split_once(':')?;
    let two_digits = |p: &str| p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit());
    if !two_digits(h) || !two_digits(m) {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

/// A daily wall-clock window of a rule: open from `start` (inclusive) to `end` (exclusive) on
/// its days, in its time zone. A window whose end is before its start wraps past midnight and
/// belongs to the day it started on (22:00-02:00 on Fridays is open Friday 22:00 to Saturday
/// 02:00). Wall clock: on the day clocks go back, the repeated hour is in a window twice; on the
/// day they go forward, the skipped hour is in none.
#[derive(Clone)]
pub(super) struct ClockWindow {
    /// Minutes since midnight.
    start: u32,
    end: u32,
    /// Monday first.
    days: [bool; 7],
    timezone: String,
    /// The wall clock in `timezone` at an instant: the zone [`parse_timezone`] gave, held by the
    /// closure (its type is chrono-tz's, not a dependency of this crate).
    wall_clock: Arc<dyn Fn(DateTime<Utc>) -> NaiveDateTime + Send + Sync>,
}

impl ClockWindow {
    pub(super) fn contains(&self, at: DateTime<Utc>) -> bool {
        let local = (self.wall_clock)(at);
        let minute = local.hour() * 60 + local.minute();
        let on = |day: chrono::Weekday| self.days[day.num_days_from_monday() as usize];
        let today = local.weekday();
        if self.start < self.end {
            on(today) && (self.start..self.end).contains(&minute)
        } else {
            (on(today) && minute >= self.start) || (on(today.pred()) && minute < self.end)
        }
    }
}

impl fmt::Debug for ClockWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days: Vec<&str> = DAY_NAMES
            .iter()
            .zip(self.days)
            .filter_map(|(d, on)| on.then_some(*d))
            .collect();
        write!(
            f,
            "{}-{} {} {}",
            hh_mm(self.start),
            hh_mm(self.end),
            days.join(","),
            self.timezone
        )
    }
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

    fn kinds(c: &ScheduleConfig, at: &str) -> Option<Vec<RunKind>> {
        c.pull.plan(utc(at), 30).kinds
    }

    const FULL: &str = r#"
        enabled = true
        [schedule_modes]
        interactive = "always"
        scheduled = "rules"

        [[rules]]
        kind = "interval"
        interval_seconds = 600
        applies_to = ["scheduled"]

        [[rules]]
        kind = "window"
        start = "01:00"
        end = "06:00"
        days = ["mon","tue","wed","thu","fri"]
        timezone = "Europe/Berlin"
        applies_to = ["scheduled"]
    "#;

    const FULL_JSON: &str = r#"{
        "enabled": true,
        "schedule_modes": {"interactive": "always", "scheduled": "rules"},
        "rules": [
            {"kind": "interval", "interval_seconds": 600, "applies_to": ["scheduled"]},
            {"kind": "window", "start": "01:00", "end": "06:00",
             "days": ["mon", "tue", "wed", "thu", "fri"], "timezone": "Europe/Berlin",
             "applies_to": ["scheduled"]}
        ]
    }"#;

    /// The full example: interactive always; scheduled through the long poll 01:00-06:00 Berlin
    /// time on weekdays, otherwise looked for every ten minutes.
    fn assert_full_example(c: &ScheduleConfig) {
        assert!(c.fire_schedules);
        assert_eq!(c.fire_interval, Duration::from_secs(5));
        let rules = c.pull.rules.as_ref().unwrap();
        assert_eq!(rules.len(), 2);
        assert_eq!(rules[0].kind, RunKind::Interactive);
        assert!(matches!(rules[0].when, When::Always));
        assert_eq!(rules[1].kind, RunKind::Scheduled);
        let When::Clock { windows, outside } = &rules[1].when else {
            panic!("{:?}", rules[1].when);
        };
        assert_eq!(*outside, Some(Duration::from_secs(600)));
        assert_eq!(
            format!("{windows:?}"),
            "[01:00-06:00 mon,tue,wed,thu,fri Europe/Berlin]"
        );
        // Monday 2026-03-02, 02:00 in Berlin (CET, UTC+1): inside, a long poll, capped at the
        // next minute.
        let p = c.pull.plan(utc("2026-03-02T01:00:20Z"), 30);
        assert_eq!(p.kinds, None);
        assert_eq!(p.wait_seconds, 30);
        let p = c.pull.plan(utc("2026-03-02T01:00:50Z"), 30);
        assert_eq!(p.wait_seconds, 10);
        assert!(p.checked.is_empty());
        // Monday 12:00 Berlin: outside; a look at the scheduled kind, then ten minutes without.
        let t = utc("2026-03-02T11:00:00Z");
        let p = c.pull.plan(t, 30);
        assert_eq!(p.kinds, None);
        assert_eq!(p.wait_seconds, 0, "a look, not a long poll");
        c.pull.answered(&p, t, &[]);
        let p = c.pull.plan(t + chrono::Duration::seconds(1), 30);
        assert_eq!(p.kinds, Some(vec![RunKind::Interactive]));
        let p = c.pull.plan(t + chrono::Duration::seconds(600), 30);
        assert_eq!(p.kinds, None);
        assert_eq!(p.wait_seconds, 0);
    }

    #[test]
    fn the_full_format_in_toml_and_json_gives_the_same_policy() {
        assert_full_example(&toml(FULL).unwrap());
        assert_full_example(&ScheduleConfig::parse(FULL_JSON, Format::Json).unwrap());
    }

    #[test]
    fn modes_map_onto_the_current_rules() {
        // Nothing at all but `enabled`: every kind, always, and schedules are fired.
        let c = toml("enabled = true").unwrap();
        assert!(c.fire_schedules);
        assert_eq!(kinds(&c, "2026-03-02T12:00:00Z"), None);
        assert_eq!(
            c.pull.plan(utc("2026-03-02T12:00:00Z"), 30).wait_seconds,
            30
        );
        // never: left out; an interval alone: the current format's interval_seconds.
        let c = toml(
            r#"
            [schedule_modes]
            interactive = "never"
            scheduled = "rules"
            [[rules]]
            kind = "interval"
            interval_seconds = 60
            "#,
        )
        .unwrap();
        let rules = c.pull.rules.as_ref().unwrap();
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0].kind, RunKind::Scheduled);
        assert!(matches!(rules[0].when, When::Every(d) if d == Duration::from_secs(60)));
        // A rule naming a kind whose mode is not "rules" is not consulted for it.
        let c = toml(
            r#"
            schedule_modes = { scheduled = "rules" }
            [[rules]]
            kind = "window"
            start = "01:00"
            end = "02:00"
            applies_to = ["interactive", "scheduled"]
            "#,
        )
        .unwrap();
        let rules = c.pull.rules.as_ref().unwrap();
        assert!(matches!(rules[0].when, When::Always));
        assert!(matches!(rules[1].when, When::Clock { outside: None, .. }));
        assert_eq!(
            kinds(&c, "2026-03-02T12:00:00Z"),
            Some(vec![RunKind::Interactive])
        );
        assert_eq!(kinds(&c, "2026-03-02T01:59:59Z"), None);
    }

    #[test]
    fn windows_wrap_past_midnight_and_belong_to_the_day_they_start() {
        // Fridays 22:00-02:00 UTC (2026-03-06 is a Friday).
        let c = toml(
            r#"
            schedule_modes = { interactive = "never", scheduled = "rules" }
            [[rules]]
            kind = "window"
            start = "22:00"
            end = "02:00"
            days = ["FRI"]
            "#,
        )
        .unwrap();
        let open = Some(vec![RunKind::Scheduled]);
        let closed = Some(vec![]);
        for (at, want) in [
            ("2026-03-06T21:59:59Z", &closed),
            ("2026-03-06T22:00:00Z", &open),
            ("2026-03-06T23:59:59Z", &open),
            // Saturday morning: still Friday's window.
            ("2026-03-07T00:00:00Z", &open),
            ("2026-03-07T01:59:59Z", &open),
            ("2026-03-07T02:00:00Z", &closed),
            // Saturday night: Saturday is not one of its days.
            ("2026-03-07T23:00:00Z", &closed),
            // Friday morning belongs to Thursday's window, which does not exist.
            ("2026-03-06T01:00:00Z", &closed),
        ] {
            assert_eq!(&kinds(&c, at), want, "{at}");
        }
        // Outside every window with no interval: nothing asked for, and no busy loop.
        let p = c.pull.plan(utc("2026-03-06T12:00:00Z"), 0);
        assert_eq!(p.wait_seconds, 1);
    }

    #[test]
    fn days_are_the_days_of_the_window_time_zone() {
        // Weekdays 01:00-06:00 in Berlin, to which the default mode "always" of interactive
        // does not matter: only scheduled is "rules".
        let c = toml(
            r#"
            schedule_modes = { interactive = "never", scheduled = "rules" }
            [[rules]]
            kind = "window"
            start = "01:00"
            end = "06:00"
            days = ["Mon", "tue", "WED", "thu", "fri"]
            timezone = "Europe/Berlin"
            "#,
        )
        .unwrap();
        let open = Some(vec![RunKind::Scheduled]);
        let closed = Some(vec![]);
        for (at, want) in [
            // Monday 2026-03-02 00:30 UTC = 01:30 CET: open.
            ("2026-03-02T00:30:00Z", &open),
            // Monday 23:59 UTC = Tuesday 00:59 CET: closed, 00:00 UTC = 01:00 CET: open.
            ("2026-03-02T23:59:00Z", &closed),
            ("2026-03-03T00:00:00Z", &open),
            // 05:00 UTC = 06:00 CET: closed.
            ("2026-03-02T05:00:00Z", &closed),
            // Saturday 2026-03-07 02:00 CET: not one of its days.
            ("2026-03-07T01:00:00Z", &closed),
            // Sunday 23:30 UTC = Monday 00:30 CET: closed; Monday 00:30 UTC = 01:30: open.
            ("2026-03-08T23:30:00Z", &closed),
            ("2026-03-09T00:30:00Z", &open),
            // Summer time (CEST, UTC+2): Monday 2026-06-01 04:30 UTC = 06:30: closed; 03:30
            // UTC = 05:30: open; 23:30 UTC on Sunday = Monday 01:30: open.
            ("2026-06-01T04:30:00Z", &closed),
            ("2026-06-01T03:30:00Z", &open),
            ("2026-05-31T23:30:00Z", &open),
        ] {
            assert_eq!(&kinds(&c, at), want, "{at}");
        }
    }

    #[test]
    fn a_kind_with_windows_and_an_interval_listens_inside_and_looks_outside() {
        let c = toml(
            r#"
            schedule_modes = { interactive = "never", scheduled = "rules" }
            [[rules]]
            kind = "window"
            start = "10:00"
            end = "11:00"
            [[rules]]
            kind = "window"
            start = "20:30"
            end = "21:15"
            [[rules]]
            kind = "interval"
            interval_seconds = 90
            "#,
        )
        .unwrap();
        let t = utc("2026-03-02T12:00:00Z");
        let p = c.pull.plan(t, 30);
        assert_eq!(p.kinds, Some(vec![RunKind::Scheduled]));
        assert_eq!(p.wait_seconds, 0);
        c.pull.answered(&p, t, &[]);
        // Still outside: not looked for until 12:01:30, and no wait past a minute's end (a
        // window may open then) or past the next look.
        let p = c.pull.plan(utc("2026-03-02T12:00:10Z"), 60);
        assert_eq!(p.kinds, Some(vec![]));
        assert_eq!(p.wait_seconds, 50);
        let p = c.pull.plan(utc("2026-03-02T12:01:10Z"), 60);
        assert_eq!(p.kinds, Some(vec![]));
        assert_eq!(p.wait_seconds, 20);
        // In the second window: listened for, whatever the interval says.
        let p = c.pull.plan(utc("2026-03-02T20:30:00Z"), 30);
        assert_eq!(p.kinds, Some(vec![RunKind::Scheduled]));
        assert!(p.checked.is_empty());
        assert_eq!(p.wait_seconds, 30);
        assert_eq!(
            kinds(&c, "2026-03-02T10:59:59Z"),
            Some(vec![RunKind::Scheduled])
        );
    }

    #[test]
    fn disabled_pulls_nothing_and_fires_nothing() {
        for text in [
            "enabled = false",
            r#"enabled = false
            [schedule_modes]
            interactive = "always"
            [[rules]]
            kind = "interval"
            interval_seconds = 5"#,
        ] {
            let c = toml(text).unwrap();
            assert!(!c.fire_schedules, "{text}");
            for at in ["2026-03-02T01:30:00Z", "2026-03-02T12:00:00Z"] {
                let p = c.pull.plan(utc(at), 30);
                assert_eq!(p.kinds, Some(vec![]), "{text}");
                assert!(p.checked.is_empty());
            }
        }
        let c = ScheduleConfig::parse(r#"{"enabled": false}"#, Format::Json).unwrap();
        assert!(!c.fire_schedules);
        assert_eq!(kinds(&c, "2026-03-02T12:00:00Z"), Some(vec![]));
        // Still checked in full.
        assert!(
            toml("enabled = false\nschedule_modes = { scheduled = \"rules\" }")
                .unwrap_err()
                .contains("no rule applies")
        );
    }

    #[test]
    fn bad_files_say_what_is_wrong() {
        // One rule (an inline table) for the kind `scheduled`, whose mode is "rules".
        let rule = |fields: &str| {
            format!("schedule_modes = {{ scheduled = \"rules\" }}\nrules = [{{ {fields} }}]")
        };
        let window = |fields: &str| rule(&format!(r#"kind = "window", {fields}"#));
        let cases: Vec<(String, &str)> = vec![
            (
                r#"schedule_modes = { scheduled = "rules" }"#.into(),
                r#"schedule_modes.scheduled is "rules" but no rule applies to it"#,
            ),
            (
                r#"schedule_modes = { interactive = "rules", scheduled = "rules" }
                rules = [{ kind = "interval", interval_seconds = 5, applies_to = ["scheduled"] }]"#
                    .into(),
                r#"schedule_modes.interactive is "rules" but no rule applies to it"#,
            ),
            (
                r#"schedule_modes = { scheduled = "rules" }
                [[rules]]
                kind = "interval"
                interval_seconds = 5
                [[rules]]
                kind = "window"
                start = "01:00"
                end = "02:00"
                [[rules]]
                kind = "interval"
                interval_seconds = 9"#
                    .into(),
                "rules entries 1 and 3 are both interval rules for `scheduled`",
            ),
            (
                window(r#"start = "03:00", end = "03:00""#),
                "rules entry 1 (window): start and end are both `03:00`",
            ),
            (
                window(r#"start = "25:00", end = "03:00""#),
                "rules entry 1 (window): start `25:00` is not a 24-hour time HH:MM",
            ),
            (
                window(r#"start = "01:00", end = "3:00""#),
                "end `3:00` is not a 24-hour time HH:MM",
            ),
            (window(r#"start = "01:00", end = "24:00""#), "end `24:00`"),
            (window(r#"start = "01:00", end = "03:60""#), "end `03:60`"),
            (
                window(r#"start = "01:00", end = "03:00", days = ["monday"]"#),
                "rules entry 1 (window): day `monday` is not one of mon, tue",
            ),
            (
                window(r#"start = "01:00", end = "03:00", days = []"#),
                "rules entry 1 (window): days is empty",
            ),
            (
                window(r#"start = "01:00", end = "03:00", timezone = "Moon/Base""#),
                "rules entry 1 (window): timezone `Moon/Base` is not an IANA",
            ),
            (
                window(r#"start = "01:00", end = "03:00", applies_to = []"#),
                "rules entry 1 (window): applies_to is empty",
            ),
            (
                window(r#"start = "01:00", end = "03:00", applies_to = ["batch"]"#),
                "unknown variant `batch`, expected `interactive` or `scheduled`",
            ),
            (
                window(r#"start = "01:00", end = "03:00", interval_seconds = 5"#),
                r#"rules entry 1 (window): interval_seconds only goes with kind = "interval""#,
            ),
            (
                window(r#"start = "01:00""#),
                "rules entry 1 (window): end is missing",
            ),
            (
                window(r#"start = "01:00", end = "03:00", every = 5"#),
                "unknown field `every`",
            ),
            (
                rule(r#"kind = "interval", interval_seconds = 0"#),
                "rules entry 1 (interval): interval_seconds must be at least 1",
            ),
            (
                rule(r#"kind = "interval", interval_seconds = -5"#),
                "interval_seconds = -5 }] | ^^ invalid value: integer `-5`, expected u64",
            ),
            (
                rule(r#"kind = "interval", interval_seconds = 5, start = "01:00""#),
                r#"rules entry 1 (interval): start only goes with kind = "window""#,
            ),
            (
                rule(r#"kind = "interval""#),
                "rules entry 1 (interval): interval_seconds is missing",
            ),
            (rule(r#"kind = "cron""#), "unknown variant `cron`"),
            (rule("interval_seconds = 5"), "missing field `kind`"),
            (
                r#"schedule_modes = { scheduled = "sometimes" }"#.into(),
                "unknown variant `sometimes`",
            ),
            (
                r#"schedule_modes = { batch = "never" }"#.into(),
                "unknown field `batch`",
            ),
            (
                "enabled = true\nmode = \"x\"".into(),
                "unknown field `mode`",
            ),
            ("enabled = \"yes\"".into(), "invalid type"),
        ];
        for (text, says) in &cases {
            let e = toml(text).unwrap_err();
            assert!(e.contains(says), "{text}\n=> {e}");
            assert!(!e.contains('\n'), "one line: {e}");
        }
        for (json, says) in [
            (
                r#"{"rules": [{"kind": "window", "start": "01:00", "end": "01:00"}]}"#,
                "start and end are both",
            ),
            (
                r#"{"schedule_modes": {"scheduled": "rules"}}"#,
                "no rule applies",
            ),
            (r#"{"enabled": true, "extra": 1}"#, "unknown field `extra`"),
        ] {
            let e = ScheduleConfig::parse(json, Format::Json).unwrap_err();
            assert!(e.contains(says), "{json}\n=> {e}");
            assert!(!e.contains('\n'), "one line: {e}");
        }
    }

    #[test]
    fn mixing_the_formats_is_an_error_naming_both() {
        for (text, format, says) in [
            (
                "enabled = true\nfire_schedules = false\n",
                Format::Toml,
                "keys of the previous platform's format (`enabled`) and of the current format \
                 (`fire_schedules`) cannot be mixed",
            ),
            (
                r#"fire_interval_seconds = 5
                [schedule_modes]
                scheduled = "never"
                [[rules]]
                kind = "interval"
                interval_seconds = 5
                [[pull]]
                kind = "interactive""#,
                Format::Toml,
                "(`rules`, `schedule_modes`) and of the current format (`pull`, \
                 `fire_interval_seconds`)",
            ),
            (
                r#"{"pull": [], "enabled": false}"#,
                Format::Json,
                "(`enabled`) and of the current format (`pull`)",
            ),
        ] {
            let e = ScheduleConfig::parse(text, format).unwrap_err();
            assert!(e.contains(says), "{text}\n=> {e}");
            assert!(!e.contains('\n'), "one line: {e}");
        }
    }
}
