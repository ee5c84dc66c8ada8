//! Parsing and formatting of times as they appear in exports, feeds and query strings.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// Milliseconds since the epoch from the common spellings: RFC 3339 / ISO 8601 (with or without
/// zone — none means UTC), RFC 2822, `YYYY-MM-DD`, and Unix seconds or milliseconds.
pub fn parse_time_ms(s: &str) -> Option<i64> {
    parse_any_ms(s).filter(|ms| (-MAX_ABS_MS..=MAX_ABS_MS).contains(ms))
}

/// Times are kept within years -9999..=9999: beyond that no date means anything, and the range
/// arithmetic of queries (a default `from` 90 days before `to`) can never overflow.
const MAX_ABS_MS: i64 = 253_402_300_799_999;

fn parse_any_ms(s: &str) -> Option<i64> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(n) = s.parse::<i64>() {
        return Some(unix_to_ms(n));
    }
    if let Ok(f) = s.parse::<f64>() {
        if f.is_finite() {
            return Some(unix_to_ms(f as i64));
        }
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.timestamp_millis());
    }
    if let Ok(d) = DateTime::parse_from_rfc2822(s) {
        return Some(d.timestamp_millis());
    }
    for f in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(d) = NaiveDateTime::parse_from_str(s, f) {
            return Some(Utc.from_utc_datetime(&d).timestamp_millis());
        }
    }
    for f in ["%Y-%m-%d", "%Y/%m/%d", "%d.%m.%Y"] {
        if let Ok(d) = NaiveDate::parse_from_str(s, f) {
            return Some(
                Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0)?)
                    .timestamp_millis(),
            );
        }
    }
    None
}

/// Numbers below 10^11 are seconds (until the year 5138), larger ones milliseconds.
pub fn unix_to_ms(n: i64) -> i64 {
    if n.unsigned_abs() < 100_000_000_000 {
        n * 1000
    } else {
        n
    }
}

pub fn format_ms(ms: i64) -> String {
    match Utc.timestamp_millis_opt(ms).single() {
        Some(d) => d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        None => ms.to_string(),
    }
}

/// The look-back of a range query when `from` is not given.
pub const DEFAULT_RANGE_MS: i64 = 90 * 86_400_000;

/// `[from, to)` of a range query: `to` defaults to now, `from` to [`DEFAULT_RANGE_MS`] before
/// `to`. The error names the parameter (`from` or `to`) in the caller's words via `name`.
pub fn parse_range(
    from: Option<&str>,
    to: Option<&str>,
    name: impl Fn(&str) -> String,
) -> Result<(i64, i64), String> {
    let to_ms = match to {
        Some(t) => parse_time_ms(t)
            .ok_or_else(|| format!("{}: `{t}` is not a date or time", name("to")))?,
        None => now_ms() + 1,
    };
    let from_ms = match from {
        Some(f) => parse_time_ms(f)
            .ok_or_else(|| format!("{}: `{f}` is not a date or time", name("from")))?,
        None => to_ms - DEFAULT_RANGE_MS,
    };
    if from_ms >= to_ms {
        return Err(format!("{} must be before {}", name("from"), name("to")));
    }
    Ok((from_ms, to_ms))
}

/// A window like `7d`, `24h`, `2w`, `30m` in milliseconds.
pub fn parse_window_ms(s: &str) -> Option<i64> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit())?);
    let n: i64 = num.parse().ok()?;
    let unit_ms = match unit {
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        _ => return None,
    };
    // `then`, not `then_some`: the product of an out-of-range `n` must never be computed.
    (n > 0 && n <= 3660).then(|| n * unit_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_beyond_year_9999_are_not_times() {
        // Found by the api_query fuzz target: -1e20 saturated to i64::MIN, whose abs() overflowed.
        assert_eq!(parse_time_ms("-99999999999999999999"), None);
        assert_eq!(parse_time_ms("99999999999999999999"), None);
        assert_eq!(parse_time_ms(&i64::MIN.to_string()), None);
        assert_eq!(unix_to_ms(i64::MIN), i64::MIN);
        assert_eq!(parse_time_ms("253402300799999"), Some(253_402_300_799_999));
        assert!(parse_range(None, Some("-253402300799999"), str::to_string).is_ok());
        // Also the fuzzer's: the window's product was computed before its range was checked.
        assert_eq!(parse_window_ms("9223372036854775807w"), None);
    }

    #[test]
    fn parses_common_spellings() {
        let t = 1_759_449_600_000; // 2025-10-03T00:00:00Z
        assert_eq!(parse_time_ms("2025-10-03T00:00:00Z"), Some(t));
        assert_eq!(parse_time_ms("2025-10-03T02:00:00+02:00"), Some(t));
        assert_eq!(parse_time_ms("2025-10-03"), Some(t));
        assert_eq!(parse_time_ms("2025-10-03 00:00:00"), Some(t));
        assert_eq!(parse_time_ms("Fri, 03 Oct 2025 00:00:00 +0000"), Some(t));
        assert_eq!(parse_time_ms("1759449600"), Some(t));
        assert_eq!(parse_time_ms("1759449600000"), Some(t));
        assert_eq!(parse_time_ms("yesterday"), None);
        assert_eq!(format_ms(t), "2025-10-03T00:00:00Z");
    }

    #[test]
    fn windows() {
        assert_eq!(parse_window_ms("7d"), Some(7 * 86_400_000));
        assert_eq!(parse_window_ms("24h"), Some(86_400_000));
        assert_eq!(parse_window_ms("0d"), None);
        assert_eq!(parse_window_ms("7y"), None);
        assert_eq!(parse_window_ms("d"), None);
    }
}
