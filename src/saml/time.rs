//! Instants as milliseconds since the Unix epoch, and the xs:dateTime subset SAML uses.
//! Validation never reads a clock: the caller passes "now".

use std::fmt;

/// Milliseconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(pub i64);

impl Instant {
    pub fn from_unix_seconds(seconds: i64) -> Instant {
        Instant(seconds.saturating_mul(1000))
    }

    pub fn unix_seconds(self) -> i64 {
        self.0.div_euclid(1000)
    }

    /// The system clock, for hosts that have one through std (native, WASI). Never called
    /// by the validator: hosts read the clock and pass the time in.
    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
    pub fn system_now() -> Instant {
        let elapsed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        Instant(elapsed.as_millis() as i64)
    }

    pub fn plus_millis(self, ms: i64) -> Instant {
        Instant(self.0.saturating_add(ms))
    }

    /// Parse `YYYY-MM-DDThh:mm:ss[.fff…](Z|±hh:mm)`. A missing zone is refused: SAML
    /// requires UTC ("Z") and a zoneless time is ambiguous.
    pub fn parse(text: &str) -> Option<Instant> {
        let b = text.as_bytes();
        if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
            return None;
        }
        let num = |range: std::ops::Range<usize>| -> Option<i64> {
            let s = text.get(range)?;
            s.bytes().all(|c| c.is_ascii_digit()).then(|| s.parse().ok()).flatten()
        };
        let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
        if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) || hour > 23 || minute > 59 || second > 59 {
            return None;
        }
        let mut rest = &text[19..];
        let mut millis = 0;
        if let Some(fraction) = rest.strip_prefix('.') {
            let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return None;
            }
            let first3 = &fraction[..digits.min(3)];
            millis = first3.parse::<i64>().ok()? * 10_i64.pow(3 - first3.len() as u32);
            rest = &fraction[digits..];
        }
        let zone = rest.as_bytes();
        let offset_minutes = match zone {
            b"Z" => 0,
            [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] if [h1, h2, m1, m2].iter().all(|d| d.is_ascii_digit()) => {
                let hours = i64::from((h1 - b'0') * 10 + (h2 - b'0'));
                let minutes = i64::from((m1 - b'0') * 10 + (m2 - b'0'));
                if hours > 14 || minutes > 59 {
                    return None;
                }
                let sign = if *sign == b'-' { -1 } else { 1 };
                sign * (hours * 60 + minutes)
            }
            _ => return None,
        };
        let days = days_from_civil(year, month, day);
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
        Some(Instant(seconds * 1000 + millis))
    }
}

impl fmt::Display for Instant {
    /// RFC 3339 in UTC, with milliseconds only when they are not zero.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = self.0.div_euclid(1000);
        let millis = self.0.rem_euclid(1000);
        let (days, secs_of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
        let (year, month, day) = civil_from_days(days);
        write!(f, "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}", secs_of_day / 3600, secs_of_day / 60 % 60, secs_of_day % 60)?;
        if millis != 0 {
            write!(f, ".{millis:03}")?;
        }
        write!(f, "Z")
    }
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_saml_times() {
        assert_eq!(Instant::parse("1970-01-01T00:00:00Z"), Some(Instant(0)));
        assert_eq!(Instant::parse("2026-01-01T00:00:00Z"), Some(Instant(1_767_225_600_000)));
        assert_eq!(Instant::parse("2011-06-22T12:49:30.348Z").map(|i| i.0 % 1000), Some(348));
        assert_eq!(Instant::parse("2026-01-01T01:00:00+01:00"), Instant::parse("2026-01-01T00:00:00Z"));
        assert_eq!(Instant::parse("2024-02-29T00:00:00Z").map(|i| i.to_string()), Some("2024-02-29T00:00:00Z".into()));
        for bad in ["2026-01-01T00:00:00+0\u{e9}00", "2026-01-01T00:00:00+01:0\u{e9}", "2026-01-01T00:00:00", "2026-13-01T00:00:00Z", "2025-02-29T00:00:00Z", "2026-01-01 00:00:00Z", "2026-01-01T00:00:00.Z", "x"] {
            assert_eq!(Instant::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn formats_round_trip() {
        for s in ["2026-01-01T00:10:00Z", "1999-12-31T23:59:59.500Z", "2054-07-04T12:00:00Z"] {
            assert_eq!(Instant::parse(s).unwrap().to_string(), s);
        }
    }
}
