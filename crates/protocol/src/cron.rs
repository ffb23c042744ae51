//! Five-field cron expressions evaluated in an IANA time zone: what the `cron` and `timezone`
//! fields of a scheduled task mean, and what a manager's pull window (`SCHEDULE_CONFIG_PATH`)
//! means, defined once for the backend and the executor manager.
//!
//! Rules (those of classic cron, spelled out because time zones make them matter):
//! * Fields: `minute hour day-of-month month day-of-week`; day-of-week `0`–`7` (`0` and `7` are
//!   Sunday) or `sun`–`sat`; lists, ranges and steps (`1,15`, `1-5`, `*/10`).
//! * When both day-of-month and day-of-week are restricted, a day matching **either** fires.
//! * Times are wall-clock times in the time zone. A wall-clock time that occurs twice (the hour
//!   repeated when clocks go back) fires once, at its first occurrence. A wall-clock time that
//!   does not exist (the hour skipped when clocks go forward) fires once, when the skipped hour
//!   ends (a daily 02:30 task fires at 03:00 on that day).
//!
//! The `cron` crate evaluates the fields (it wants seconds first and numbers Sunday 1); it is
//! given the wall clock as if it were UTC, and each wall-clock match is then placed in the zone.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

/// Why an expression or a time zone was refused; the text says what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CronError {
    Cron(String),
    TimeZone(String),
}

impl fmt::Display for CronError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CronError::Cron(m) | CronError::TimeZone(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for CronError {}

/// The most wall-clock matches looked at for one answer (only the repeated hour of a
/// daylight-saving change skips any, at most 60 of them).
const MAX_STEPS: usize = 2_000;

/// A parsed expression in its time zone.
#[derive(Debug, Clone)]
pub struct CronSchedule {
    tz: Tz,
    /// One schedule, or two whose union is the expression (day-of-month or day-of-week).
    parts: Vec<cron::Schedule>,
}

/// An IANA time zone name (`Europe/Berlin`, `UTC`).
pub fn parse_timezone(name: &str) -> Result<Tz, CronError> {
    Tz::from_str(name.trim()).map_err(|_| {
        CronError::TimeZone(format!(
            "timezone `{name}` is not an IANA time zone name such as `Europe/Berlin` or `UTC`"
        ))
    })
}

impl CronSchedule {
    /// Parses a five-field expression to be evaluated in `timezone`. An expression that never
    /// fires (`0 0 31 2 *`) is refused.
    pub fn parse(expr: &str, timezone: &str) -> Result<Self, CronError> {
        let tz = parse_timezone(timezone)?;
        let fields: Vec<&str> = expr.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(CronError::Cron(format!(
                "cron `{expr}` must have five fields (minute hour day-of-month month day-of-week), it has {}",
                fields.len()
            )));
        }
        let (min, hour, dom, mon, dow) = (fields[0], fields[1], fields[2], fields[3], fields[4]);
        let build = |dom: &str, dow: &str| {
            cron::Schedule::from_str(&format!("0 {min} {hour} {dom} {mon} {dow}")).map_err(|e| {
                // The crate's message shows its own six-field form over several lines; its
                // last line says what is wrong.
                let text = e.to_string();
                let why = text.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("");
                CronError::Cron(format!("cron `{expr}` is invalid: {}", why.trim()))
            })
        };
        let parts = if dow == "*" {
            vec![build(dom, "*")?]
        } else {
            let dow = days_of_week(dow)
                .map_err(|m| CronError::Cron(format!("cron `{expr}` is invalid: {m}")))?;
            if dom == "*" {
                vec![build("*", &dow)?]
            } else {
                vec![build(dom, "*")?, build("*", &dow)?]
            }
        };
        let schedule = CronSchedule { tz, parts };
        if schedule.next_after(Utc::now()).is_none() {
            return Err(CronError::Cron(format!("cron `{expr}` never fires")));
        }
        Ok(schedule)
    }

    pub fn timezone(&self) -> Tz {
        self.tz
    }

    /// The first fire strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let start = after.with_timezone(&self.tz).naive_local().and_utc();
        let mut iters: Vec<_> = self
            .parts
            .iter()
            .map(|p| p.after(&start).peekable())
            .collect();
        for _ in 0..MAX_STEPS {
            // The earliest wall-clock match of any part (equal ones are one match).
            let wall = iters.iter_mut().filter_map(|it| it.peek().copied()).min()?;
            for it in iters.iter_mut() {
                if it.peek() == Some(&wall) {
                    it.next();
                }
            }
            let at = self.place(wall.naive_utc())?;
            if at > after {
                return Some(at);
            }
        }
        None
    }

    /// The next `n` fires strictly after `after`.
    pub fn upcoming(&self, after: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
        let mut out = Vec::with_capacity(n);
        let mut at = after;
        while out.len() < n {
            match self.next_after(at) {
                Some(next) => {
                    out.push(next);
                    at = next;
                }
                None => break,
            }
        }
        out
    }

    /// Whether the expression fires at some minute of the wall-clock hour that contains `at`:
    /// the meaning of a pull window (`0 1-5 * * *` is open from 01:00 to 05:59).
    pub fn fires_in_hour_of(&self, at: DateTime<Utc>) -> bool {
        let local = at.with_timezone(&self.tz).naive_local();
        let Some(hour_start) = local
            .with_minute(0)
            .and_then(|t| t.with_second(0))
            .and_then(|t| t.with_nanosecond(0))
        else {
            return false;
        };
        let hour_end = hour_start + Duration::hours(1);
        let probe = (hour_start - Duration::seconds(1)).and_utc();
        self.parts.iter().any(|p| {
            p.after(&probe)
                .next()
                .is_some_and(|t| t.naive_utc() < hour_end)
        })
    }

    /// The instant of a wall-clock time in the zone: its first occurrence when it happens twice,
    /// the end of the skipped interval when it does not happen at all.
    fn place(&self, wall: NaiveDateTime) -> Option<DateTime<Utc>> {
        match self.tz.from_local_datetime(&wall) {
            LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
            LocalResult::Ambiguous(a, b) => Some(a.min(b).with_timezone(&Utc)),
            LocalResult::None => {
                let mut m = wall.with_second(0)?.with_nanosecond(0)?;
                // Gaps are whole minutes and at most a day long (Samoa, 2011).
                for _ in 0..(48 * 60) {
                    m += Duration::minutes(1);
                    match self.tz.from_local_datetime(&m) {
                        LocalResult::Single(t) => return Some(t.with_timezone(&Utc)),
                        LocalResult::Ambiguous(a, b) => {
                            return Some(a.min(b).with_timezone(&Utc));
                        }
                        LocalResult::None => {}
                    }
                }
                None
            }
        }
    }
}

const DAY_NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// One day of the week in classic cron's numbering (0–7, Sunday 0 and 7) or by name → 0–6.
fn day(s: &str) -> Result<u32, String> {
    if let Ok(n) = s.parse::<u32>() {
        return match n {
            0..=7 => Ok(n % 7),
            _ => Err(format!("day of week `{s}` is not between 0 and 7")),
        };
    }
    DAY_NAMES
        .iter()
        .position(|d| d.eq_ignore_ascii_case(s))
        .map(|i| i as u32)
        .ok_or_else(|| format!("`{s}` is not a day of the week (0-7 or sun-sat)"))
}

/// A classic day-of-week field as the `cron` crate's list of day names (it numbers Sunday 1).
fn days_of_week(field: &str) -> Result<String, String> {
    let mut set = [false; 7];
    for item in field.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => {
                let step: u32 =
                    s.parse().ok().filter(|s| *s > 0).ok_or_else(|| {
                        format!("step `{s}` in day of week is not a positive number")
                    })?;
                (r, step)
            }
            None => (item, 1),
        };
        let (lo, hi) = if range == "*" {
            (0, 6)
        } else if let Some((a, b)) = range.split_once('-') {
            // Keep 7 as the top of a range (`5-7` is Friday to Sunday).
            let a = day(a)?;
            let b = match b.parse::<u32>() {
                Ok(7) => 7,
                _ => day(b)?,
            };
            if a > b {
                return Err(format!("day-of-week range `{range}` runs backwards"));
            }
            (a, b)
        } else {
            let a = day(range)?;
            (a, if step > 1 { 6 } else { a })
        };
        let mut d = lo;
        while d <= hi {
            set[(d % 7) as usize] = true;
            d += step;
        }
    }
    Ok(DAY_NAMES
        .iter()
        .zip(set)
        .filter(|(_, on)| *on)
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn next(expr: &str, tz: &str, after: &str) -> DateTime<Utc> {
        CronSchedule::parse(expr, tz)
            .unwrap()
            .next_after(utc(after))
            .unwrap()
    }

    #[test]
    fn five_fields_in_utc() {
        assert_eq!(
            next("*/15 * * * *", "UTC", "2026-03-01T10:07:00Z"),
            utc("2026-03-01T10:15:00Z")
        );
        // Strictly after.
        assert_eq!(
            next("30 9 * * *", "UTC", "2026-03-01T09:30:00Z"),
            utc("2026-03-02T09:30:00Z")
        );
    }

    #[test]
    fn days_of_week_use_classic_numbering() {
        // 2026-03-02 is a Monday.
        assert_eq!(
            next("0 9 * * 1", "UTC", "2026-03-01T00:00:00Z"),
            utc("2026-03-02T09:00:00Z")
        );
        assert_eq!(
            next("0 9 * * 0", "UTC", "2026-03-02T00:00:00Z"),
            utc("2026-03-08T09:00:00Z")
        );
        assert_eq!(
            next("0 9 * * 7", "UTC", "2026-03-02T00:00:00Z"),
            utc("2026-03-08T09:00:00Z")
        );
        // Friday to Sunday, from a Monday: Friday.
        assert_eq!(
            next("0 9 * * 5-7", "UTC", "2026-03-02T00:00:00Z"),
            utc("2026-03-06T09:00:00Z")
        );
        assert_eq!(
            next("0 9 * * mon-fri", "UTC", "2026-03-07T00:00:00Z"),
            utc("2026-03-09T09:00:00Z")
        );
    }

    #[test]
    fn day_of_month_or_day_of_week() {
        // The 15th or any Monday: from Tuesday 2026-03-03 the next is Monday 9th, then the 15th.
        let s = CronSchedule::parse("0 0 15 * 1", "UTC").unwrap();
        assert_eq!(
            s.upcoming(utc("2026-03-03T00:00:00Z"), 2),
            vec![utc("2026-03-09T00:00:00Z"), utc("2026-03-15T00:00:00Z")]
        );
    }

    #[test]
    fn time_zone_is_respected() {
        assert_eq!(
            next("0 9 * * *", "Europe/Berlin", "2026-01-10T12:00:00Z"),
            utc("2026-01-11T08:00:00Z")
        );
        assert_eq!(
            next("0 9 * * *", "Europe/Berlin", "2026-07-10T12:00:00Z"),
            utc("2026-07-11T07:00:00Z")
        );
    }

    #[test]
    fn spring_forward_fires_the_skipped_time_once_when_the_gap_ends() {
        // Europe/Berlin 2026-03-29: 02:00 CET → 03:00 CEST; 02:30 does not exist.
        let s = CronSchedule::parse("30 2 * * *", "Europe/Berlin").unwrap();
        let fires = s.upcoming(utc("2026-03-27T12:00:00Z"), 4);
        assert_eq!(
            fires,
            vec![
                utc("2026-03-28T01:30:00Z"), // 02:30 CET
                utc("2026-03-29T01:00:00Z"), // 03:00 CEST, the end of the gap
                utc("2026-03-30T00:30:00Z"), // 02:30 CEST
                utc("2026-03-31T00:30:00Z"),
            ]
        );
        // America/New_York 2026-03-08: 02:00 EST → 03:00 EDT.
        let s = CronSchedule::parse("30 2 * * *", "America/New_York").unwrap();
        assert_eq!(
            s.upcoming(utc("2026-03-07T12:00:00Z"), 3),
            vec![
                utc("2026-03-08T07:00:00Z"), // 03:00 EDT
                utc("2026-03-09T06:30:00Z"),
                utc("2026-03-10T06:30:00Z"),
            ]
        );
    }

    #[test]
    fn fall_back_fires_the_repeated_time_once() {
        // Europe/Berlin 2026-10-25: 03:00 CEST → 02:00 CET; 02:30 happens twice.
        let s = CronSchedule::parse("30 2 * * *", "Europe/Berlin").unwrap();
        assert_eq!(
            s.upcoming(utc("2026-10-24T12:00:00Z"), 2),
            vec![utc("2026-10-25T00:30:00Z"), utc("2026-10-26T01:30:00Z")]
        );
        // Asked from inside the repeated hour's second pass: not again that day.
        assert_eq!(
            s.next_after(utc("2026-10-25T01:10:00Z")),
            Some(utc("2026-10-26T01:30:00Z"))
        );
        // America/New_York 2026-11-01: 02:00 EDT → 01:00 EST; 01:30 happens twice.
        let s = CronSchedule::parse("30 1 * * *", "America/New_York").unwrap();
        assert_eq!(
            s.upcoming(utc("2026-10-31T12:00:00Z"), 2),
            vec![utc("2026-11-01T05:30:00Z"), utc("2026-11-02T06:30:00Z")]
        );
        assert_eq!(
            s.next_after(utc("2026-11-01T06:00:00Z")),
            Some(utc("2026-11-02T06:30:00Z"))
        );
    }

    #[test]
    fn bad_expressions_and_zones_say_what_is_wrong() {
        for (expr, tz, want) in [
            ("* * * *", "UTC", "five fields"),
            ("0 0 * * * *", "UTC", "five fields"),
            ("@daily", "UTC", "five fields"),
            ("61 * * * *", "UTC", "invalid"),
            ("0 25 * * *", "UTC", "invalid"),
            ("0 0 * * 8", "UTC", "between 0 and 7"),
            ("0 0 * * 5-1", "UTC", "backwards"),
            ("0 0 * * */0", "UTC", "positive"),
            ("0 0 * * funday", "UTC", "not a day"),
            ("0 0 31 2 *", "UTC", "never fires"),
            ("0 0 * * *", "Mars/Olympus", "IANA"),
            ("0 0 * * *", "", "IANA"),
        ] {
            let e = CronSchedule::parse(expr, tz).unwrap_err().to_string();
            assert!(e.contains(want), "{expr} {tz}: {e}");
            assert!(!e.contains('\n'), "one line: {e}");
        }
    }

    #[test]
    fn windows_are_the_hours_the_expression_fires_in() {
        let w = CronSchedule::parse("0 1-5 * * *", "UTC").unwrap();
        assert!(!w.fires_in_hour_of(utc("2026-03-01T00:59:59Z")));
        assert!(w.fires_in_hour_of(utc("2026-03-01T01:00:00Z")));
        assert!(w.fires_in_hour_of(utc("2026-03-01T05:59:00Z")));
        assert!(!w.fires_in_hour_of(utc("2026-03-01T06:00:00Z")));
        let w = CronSchedule::parse("30 22 * * 1-5", "Europe/Berlin").unwrap();
        // Monday 2026-03-02 22:10 CET = 21:10 UTC.
        assert!(w.fires_in_hour_of(utc("2026-03-02T21:10:00Z")));
        assert!(!w.fires_in_hour_of(utc("2026-03-07T21:10:00Z")));
    }
}
