//! Cron expressions as Velero parses them: `github.com/robfig/cron/v3`'s `ParseStandard`.
//!
//! * five fields, minute (0-59), hour (0-23), day of month (1-31), month (1-12 or `jan`…`dec`)
//!   and day of week (0-6 or `sun`…`sat`); each a comma list of `*`, `?`, `n`, `a-b`, with an
//!   optional `/step` (`n/step` runs from `n` to the field's maximum);
//! * day of month and day of week both restricted (neither starts with `*`/`?`): either may
//!   match; otherwise both must;
//! * descriptors `@yearly`/`@annually`, `@monthly`, `@weekly`, `@daily`/`@midnight`, `@hourly`
//!   and `@every <Go duration>` (rounded down to whole seconds, at least one second); `@every`
//!   runs a fixed delay after the time it is asked about, not on a wall-clock grid;
//! * an optional `TZ=<zone> ` or `CRON_TZ=<zone> ` prefix; without it, the Velero server's
//!   local zone, UTC in its container;
//! * `next(t)` is the first matching whole second strictly after `t`, searched up to five years
//!   ahead (none: `None`, where robfig returns Go's zero time).
//!
//! Error messages are robfig's, word for word, so `status.validationErrors` reads as Velero's.

use std::fmt;

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan};

/// Why an expression does not parse; the text is robfig/cron's.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CronError(pub String);

/// A parsed schedule.
#[derive(Clone, Debug, PartialEq)]
pub enum CronSchedule {
    /// `@every <duration>`: a fixed delay, in whole seconds.
    Every(SignedDuration),
    /// A five-field expression or a descriptor other than `@every`.
    Spec(SpecSchedule),
}

/// The fields of a cron expression as bit sets (bit `n` set: value `n` matches).
#[derive(Clone, Debug, PartialEq)]
pub struct SpecSchedule {
    minute: u64,
    hour: u64,
    dom: u64,
    month: u64,
    dow: u64,
    tz: TimeZone,
}

/// Set on a field written as `*` or `?` (without a step above one).
const STAR: u64 = 1 << 63;

struct Bounds {
    min: u32,
    max: u32,
    names: &'static [(&'static str, u32)],
}

const MINUTES: Bounds = Bounds {
    min: 0,
    max: 59,
    names: &[],
};
const HOURS: Bounds = Bounds {
    min: 0,
    max: 23,
    names: &[],
};
const DOM: Bounds = Bounds {
    min: 1,
    max: 31,
    names: &[],
};
const MONTHS: Bounds = Bounds {
    min: 1,
    max: 12,
    names: &[
        ("jan", 1),
        ("feb", 2),
        ("mar", 3),
        ("apr", 4),
        ("may", 5),
        ("jun", 6),
        ("jul", 7),
        ("aug", 8),
        ("sep", 9),
        ("oct", 10),
        ("nov", 11),
        ("dec", 12),
    ],
};
const DOW: Bounds = Bounds {
    min: 0,
    max: 6,
    names: &[("sun", 0), ("mon", 1), ("tue", 2), ("wed", 3), ("thu", 4), ("fri", 5), ("sat", 6)],
};

impl CronSchedule {
    /// Parses `spec` as robfig/cron's `ParseStandard` does.
    pub fn parse(spec: &str) -> Result<CronSchedule, CronError> {
        let err = |s: String| Err(CronError(s));
        if spec.is_empty() {
            return err("empty spec string".to_string());
        }
        let mut tz = TimeZone::UTC;
        let mut spec = spec;
        if spec.starts_with("TZ=") || spec.starts_with("CRON_TZ=") {
            let eq = spec.find('=').unwrap_or(0);
            let Some(space) = spec.find(' ') else {
                return err(format!("provided bad location {}: no schedule follows the zone", &spec[eq + 1..]));
            };
            let name = &spec[eq + 1..space];
            tz = match name {
                "" | "UTC" => TimeZone::UTC,
                _ => TimeZone::get(name).map_err(|_| CronError(format!("provided bad location {name}: unknown time zone {name}")))?,
            };
            spec = spec[space..].trim();
        }
        if spec.starts_with('@') {
            return parse_descriptor(spec, tz);
        }
        let fields: Vec<&str> = spec.split_whitespace().collect();
        if fields.len() != 5 {
            return err(format!("expected exactly 5 fields, found {}: [{}]", fields.len(), fields.join(" ")));
        }
        Ok(CronSchedule::Spec(SpecSchedule {
            minute: field(fields[0], &MINUTES)?,
            hour: field(fields[1], &HOURS)?,
            dom: field(fields[2], &DOM)?,
            month: field(fields[3], &MONTHS)?,
            dow: field(fields[4], &DOW)?,
            tz,
        }))
    }

    /// The first activation strictly after `t` (at a whole second), if any within five years.
    pub fn next(&self, t: Timestamp) -> Option<Timestamp> {
        match self {
            CronSchedule::Every(delay) => {
                let whole = Timestamp::from_second(t.as_second()).ok()?;
                whole.checked_add(*delay).ok()
            }
            CronSchedule::Spec(spec) => spec.next(t),
        }
    }
}

fn parse_descriptor(descriptor: &str, tz: TimeZone) -> Result<CronSchedule, CronError> {
    let spec = |minute, hour, dom, month, dow| {
        Ok(CronSchedule::Spec(SpecSchedule {
            minute,
            hour,
            dom,
            month,
            dow,
            tz: tz.clone(),
        }))
    };
    let all = |b: &Bounds| bits(b.min, b.max, 1) | STAR;
    match descriptor {
        "@yearly" | "@annually" => spec(1, 1, 1 << 1, 1 << 1, all(&DOW)),
        "@monthly" => spec(1, 1, 1 << 1, all(&MONTHS), all(&DOW)),
        "@weekly" => spec(1, 1, all(&DOM), all(&MONTHS), 1),
        "@daily" | "@midnight" => spec(1, 1, all(&DOM), all(&MONTHS), all(&DOW)),
        "@hourly" => spec(1, all(&HOURS), all(&DOM), all(&MONTHS), all(&DOW)),
        _ => match descriptor.strip_prefix("@every ") {
            Some(text) => {
                let nanos = parse_go_duration(text).map_err(|e| CronError(format!("failed to parse duration {descriptor}: {e}")))?;
                // robfig's `Every`: below one second runs every second; otherwise whole seconds.
                let secs = if nanos < 1_000_000_000 { 1 } else { nanos / 1_000_000_000 };
                Ok(CronSchedule::Every(SignedDuration::from_secs(secs as i64)))
            }
            None => Err(CronError(format!("unrecognized descriptor: {descriptor}"))),
        },
    }
}

/// `getField`: a comma list of ranges (empty items are skipped, as `strings.FieldsFunc` does).
fn field(text: &str, b: &Bounds) -> Result<u64, CronError> {
    let mut out = 0;
    for expr in text.split(',').filter(|s| !s.is_empty()) {
        out |= range(expr, b)?;
    }
    Ok(out)
}

/// `getRange`.
fn range(expr: &str, b: &Bounds) -> Result<u64, CronError> {
    let err = |s: String| Err(CronError(s));
    let range_and_step: Vec<&str> = expr.split('/').collect();
    let low_and_high: Vec<&str> = range_and_step[0].split('-').collect();
    let single = low_and_high.len() == 1;
    let (start, mut end, mut extra);
    if low_and_high[0] == "*" || low_and_high[0] == "?" {
        start = b.min;
        end = b.max;
        extra = STAR;
    } else {
        start = int_or_name(low_and_high[0], b.names)?;
        end = match low_and_high.len() {
            1 => start,
            2 => int_or_name(low_and_high[1], b.names)?,
            _ => return err(format!("too many hyphens: {expr}")),
        };
        extra = 0;
    }
    let step = match range_and_step.len() {
        1 => 1,
        2 => {
            let step = parse_int(range_and_step[1])?;
            if single {
                end = b.max;
            }
            if step > 1 {
                extra = 0;
            }
            step
        }
        _ => return err(format!("too many slashes: {expr}")),
    };
    if start < b.min {
        return err(format!("beginning of range ({start}) below minimum ({}): {expr}", b.min));
    }
    if end > b.max {
        return err(format!("end of range ({end}) above maximum ({}): {expr}", b.max));
    }
    if start > end {
        return err(format!("beginning of range ({start}) beyond end of range ({end}): {expr}"));
    }
    if step == 0 {
        return err(format!("step of range should be a positive number: {expr}"));
    }
    Ok(bits(start, end, step) | extra)
}

fn bits(min: u32, max: u32, step: u32) -> u64 {
    (min..=max).step_by(step as usize).fold(0, |acc, i| acc | (1u64 << i))
}

fn int_or_name(expr: &str, names: &[(&str, u32)]) -> Result<u32, CronError> {
    let lower = expr.to_ascii_lowercase();
    match names.iter().find(|(n, _)| *n == lower) {
        Some((_, v)) => Ok(*v),
        None => parse_int(expr),
    }
}

/// `mustParseInt`, with Go's `strconv.Atoi` messages.
fn parse_int(expr: &str) -> Result<u32, CronError> {
    let digits = expr.strip_prefix(['+', '-']).unwrap_or(expr);
    let fail = |why: &str| CronError(format!("failed to parse int from {expr}: strconv.Atoi: parsing {expr:?}: {why}"));
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return Err(fail("invalid syntax"));
    }
    let value: i64 = expr.parse().map_err(|_| fail("value out of range"))?;
    if value < 0 {
        return Err(CronError(format!("negative number ({value}) not allowed: {expr}")));
    }
    u32::try_from(value).map_err(|_| CronError(format!("end of range ({value}) above maximum: {expr}")))
}

impl SpecSchedule {
    fn day_matches(&self, d: Date) -> bool {
        let dom = self.dom & (1 << d.day()) != 0;
        let dow = self.dow & (1 << d.weekday().to_sunday_zero_offset()) != 0;
        if self.dom & STAR != 0 || self.dow & STAR != 0 {
            dom && dow
        } else {
            dom || dow
        }
    }

    /// robfig's `SpecSchedule.Next`, on civil time in the schedule's zone.
    fn next(&self, t: Timestamp) -> Option<Timestamp> {
        let start = Timestamp::from_second(t.as_second().checked_add(1)?).ok()?;
        let mut dt: DateTime = start.to_zoned(self.tz.clone()).datetime();
        let year_limit = dt.year() + 5;
        let mut added = false;
        'wrap: loop {
            if dt.year() > year_limit {
                return None;
            }
            while self.month & (1 << dt.month()) == 0 {
                if !added {
                    added = true;
                    dt = dt.date().first_of_month().to_datetime(jiff::civil::Time::midnight());
                }
                dt = dt.checked_add(1.month()).ok()?;
                if dt.month() == 1 {
                    continue 'wrap;
                }
            }
            while !self.day_matches(dt.date()) {
                if !added {
                    added = true;
                    dt = dt.date().to_datetime(jiff::civil::Time::midnight());
                }
                dt = dt.checked_add(1.day()).ok()?;
                if dt.day() == 1 {
                    continue 'wrap;
                }
            }
            while self.hour & (1 << dt.hour()) == 0 {
                if !added {
                    added = true;
                    dt = dt.date().at(dt.hour(), 0, 0, 0);
                }
                dt = dt.checked_add(1.hour()).ok()?;
                if dt.hour() == 0 {
                    continue 'wrap;
                }
            }
            while self.minute & (1 << dt.minute()) == 0 {
                if !added {
                    added = true;
                    dt = dt.date().at(dt.hour(), dt.minute(), 0, 0);
                }
                dt = dt.checked_add(1.minute()).ok()?;
                if dt.minute() == 0 {
                    continue 'wrap;
                }
            }
            // Seconds: the standard parser fixes them at 0.
            while dt.second() != 0 {
                if !added {
                    added = true;
                    dt = dt.date().at(dt.hour(), dt.minute(), dt.second(), 0);
                }
                dt = dt.checked_add(1.second()).ok()?;
                if dt.second() == 0 {
                    continue 'wrap;
                }
            }
            return dt.to_zoned(self.tz.clone()).ok().map(|z| z.timestamp());
        }
    }
}

impl fmt::Display for CronSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CronSchedule::Every(d) => write!(f, "@every {}s", d.as_secs()),
            CronSchedule::Spec(s) => write!(
                f,
                "minutes={:#x} hours={:#x} dom={:#x} months={:#x} dow={:#x}",
                s.minute, s.hour, s.dom, s.month, s.dow
            ),
        }
    }
}

/// Go's `time.ParseDuration`, in nanoseconds, with Go's error messages.
pub fn parse_go_duration(input: &str) -> Result<i128, String> {
    let invalid = || format!("time: invalid duration {input:?}");
    let mut s = input;
    let mut neg = false;
    if let Some(c) = s.chars().next()
        && (c == '-' || c == '+')
    {
        neg = c == '-';
        s = &s[1..];
    }
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut total: i128 = 0;
    while !s.is_empty() {
        let first = s.as_bytes()[0];
        if !(first == b'.' || first.is_ascii_digit()) {
            return Err(invalid());
        }
        let int_len = s.bytes().take_while(u8::is_ascii_digit).count();
        let int_part: i128 = if int_len == 0 {
            0
        } else {
            s[..int_len].parse::<u64>().map_err(|_| invalid())? as i128
        };
        s = &s[int_len..];
        let mut frac: i128 = 0;
        let mut scale: i128 = 1;
        if let Some(rest) = s.strip_prefix('.') {
            let frac_len = rest.bytes().take_while(u8::is_ascii_digit).count();
            for d in rest[..frac_len].bytes() {
                if scale < 1_000_000_000_000_000_000 {
                    frac = frac * 10 + i128::from(d - b'0');
                    scale *= 10;
                }
            }
            s = &rest[frac_len..];
            if int_len == 0 && frac_len == 0 {
                return Err(invalid());
            }
        } else if int_len == 0 {
            return Err(invalid());
        }
        let unit_len = s
            .char_indices()
            .find(|(_, c)| *c == '.' || c.is_ascii_digit())
            .map_or(s.len(), |(i, _)| i);
        if unit_len == 0 {
            return Err(format!("time: missing unit in duration {input:?}"));
        }
        let unit = &s[..unit_len];
        s = &s[unit_len..];
        let nanos: i128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return Err(format!("time: unknown unit {unit:?} in duration {input:?}")),
        };
        total += int_part * nanos + frac * nanos / scale;
        if total > i128::from(i64::MAX) + i128::from(neg) {
            return Err(invalid());
        }
    }
    Ok(if neg { -total } else { total })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    fn next(spec: &str, after: &str) -> Option<String> {
        CronSchedule::parse(spec).expect(spec).next(ts(after)).map(|t| t.to_string())
    }

    fn error(spec: &str) -> String {
        CronSchedule::parse(spec).expect_err(spec).0
    }

    #[test]
    fn five_fields_fire_on_the_grid() {
        assert_eq!(next("0 1 * * *", "2024-05-01T00:30:00Z").as_deref(), Some("2024-05-01T01:00:00Z"));
        assert_eq!(next("0 1 * * *", "2024-05-01T01:00:00Z").as_deref(), Some("2024-05-02T01:00:00Z"));
        assert_eq!(
            next("*/15 * * * *", "2024-05-01T00:07:30Z").as_deref(),
            Some("2024-05-01T00:15:00Z")
        );
        assert_eq!(
            next("30 2 * * mon-fri", "2024-05-03T03:00:00Z").as_deref(),
            Some("2024-05-06T02:30:00Z")
        );
        assert_eq!(next("0 0 1 jan *", "2024-05-01T00:00:00Z").as_deref(), Some("2025-01-01T00:00:00Z"));
        assert_eq!(
            next("59 23 31 12 *", "2024-12-31T23:59:00Z").as_deref(),
            Some("2025-12-31T23:59:00Z")
        );
        // Day of month OR day of week when both are restricted: the 13th, or any Friday.
        assert_eq!(next("0 0 13 * 5", "2024-05-01T00:00:00Z").as_deref(), Some("2024-05-03T00:00:00Z"));
        assert_eq!(next("0 0 13 * 5", "2024-05-10T00:00:00Z").as_deref(), Some("2024-05-13T00:00:00Z"));
        // Never (30 February): no next time.
        assert_eq!(next("0 0 30 2 *", "2024-01-01T00:00:00Z"), None);
        assert_eq!(
            next("TZ=UTC 0 1 * * *", "2024-05-01T00:30:00Z").as_deref(),
            Some("2024-05-01T01:00:00Z")
        );
    }

    #[test]
    fn descriptors_expand() {
        assert_eq!(next("@daily", "2024-05-01T10:00:00Z").as_deref(), Some("2024-05-02T00:00:00Z"));
        assert_eq!(next("@midnight", "2024-05-01T10:00:00Z").as_deref(), Some("2024-05-02T00:00:00Z"));
        assert_eq!(next("@hourly", "2024-05-01T10:00:00Z").as_deref(), Some("2024-05-01T11:00:00Z"));
        assert_eq!(next("@weekly", "2024-05-01T10:00:00Z").as_deref(), Some("2024-05-05T00:00:00Z"));
        assert_eq!(next("@monthly", "2024-05-01T10:00:00Z").as_deref(), Some("2024-06-01T00:00:00Z"));
        assert_eq!(next("@yearly", "2024-05-01T10:00:00Z").as_deref(), Some("2025-01-01T00:00:00Z"));
        assert_eq!(
            next("@every 24h", "2024-05-01T10:00:00.7Z").as_deref(),
            Some("2024-05-02T10:00:00Z")
        );
        assert_eq!(
            next("@every 1h30m", "2024-05-01T10:00:00Z").as_deref(),
            Some("2024-05-01T11:30:00Z")
        );
        assert_eq!(
            next("@every 336h0m0s", "2024-05-01T10:00:00Z").as_deref(),
            Some("2024-05-15T10:00:00Z")
        );
        assert_eq!(
            next("@every 1500ms", "2024-05-01T10:00:00Z").as_deref(),
            Some("2024-05-01T10:00:01Z")
        );
        assert_eq!(next("@every 10ms", "2024-05-01T10:00:00Z").as_deref(), Some("2024-05-01T10:00:01Z"));
    }

    #[test]
    fn errors_read_like_robfig() {
        assert_eq!(error(""), "empty spec string");
        assert_eq!(error("daily"), "expected exactly 5 fields, found 1: [daily]");
        assert_eq!(error("0 1 * *"), "expected exactly 5 fields, found 4: [0 1 * *]");
        assert_eq!(error("0 1 * * * *"), "expected exactly 5 fields, found 6: [0 1 * * * *]");
        assert_eq!(error("60 * * * *"), "end of range (60) above maximum (59): 60");
        assert_eq!(error("* * 0 * *"), "beginning of range (0) below minimum (1): 0");
        assert_eq!(error("5-2 * * * *"), "beginning of range (5) beyond end of range (2): 5-2");
        assert_eq!(error("*/0 * * * *"), "step of range should be a positive number: */0");
        assert_eq!(error("1-2-3 * * * *"), "too many hyphens: 1-2-3");
        assert_eq!(error("1/2/3 * * * *"), "too many slashes: 1/2/3");
        assert_eq!(
            error("x * * * *"),
            "failed to parse int from x: strconv.Atoi: parsing \"x\": invalid syntax"
        );
        assert_eq!(error("* * * * 7"), "end of range (7) above maximum (6): 7");
        assert_eq!(error("@fortnightly"), "unrecognized descriptor: @fortnightly");
        assert_eq!(error("@every"), "unrecognized descriptor: @every");
        assert_eq!(
            error("@every 1d"),
            "failed to parse duration @every 1d: time: unknown unit \"d\" in duration \"1d\""
        );
        assert_eq!(
            error("@every 24"),
            "failed to parse duration @every 24: time: missing unit in duration \"24\""
        );
        assert_eq!(error("@every h"), "failed to parse duration @every h: time: invalid duration \"h\"");
        assert!(error("TZ=Nowhere/Atlantis 0 1 * * *").starts_with("provided bad location Nowhere/Atlantis"));
    }

    #[test]
    fn go_durations_parse() {
        assert_eq!(parse_go_duration("336h0m0s"), Ok(336 * 3_600_000_000_000));
        assert_eq!(parse_go_duration("1.5h"), Ok(5_400_000_000_000));
        assert_eq!(parse_go_duration("-2m"), Ok(-120_000_000_000));
        assert_eq!(parse_go_duration("0"), Ok(0));
        assert_eq!(parse_go_duration("300µs"), Ok(300_000));
        assert_eq!(parse_go_duration(""), Err("time: invalid duration \"\"".to_string()));
        assert_eq!(parse_go_duration(".h"), Err("time: invalid duration \".h\"".to_string()));
        assert!(parse_go_duration("9999999999999999999h").is_err());
    }
}
