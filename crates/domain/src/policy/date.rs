//! Calendar dates in profiles (`"2026-04-27"`), parsed once so a profile never holds a malformed one.

use std::fmt;

use crate::time::Millis;

/// A proleptic Gregorian calendar date, UTC.
///
/// Profiles name days, not instants: Meta announces rule changes by date. No date library is
/// pulled in for this; the only arithmetic needed is "midnight UTC of this day" for choosing the
/// profile in force at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProfileDate {
    // Field order matters: the derived `Ord` compares year, then month, then day.
    year: i32,
    month: u8,
    day: u8,
}

impl ProfileDate {
    /// Parses exactly `YYYY-MM-DD` (four-digit year), rejecting impossible days such as
    /// `2026-02-29`.
    pub fn parse(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let digits = |r: std::ops::Range<usize>| -> Option<u32> {
            let part = s.get(r)?;
            if !part.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            part.parse().ok()
        };
        let year = i32::try_from(digits(0..4)?).ok()?;
        let month = u8::try_from(digits(5..7)?).ok()?;
        let day = u8::try_from(digits(8..10)?).ok()?;
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        Some(ProfileDate { year, month, day })
    }

    /// Midnight UTC at the start of this day.
    pub fn start_millis(self) -> Millis {
        Millis(days_from_civil(self.year, self.month, self.day) * 86_400_000)
    }
}

impl fmt::Display for ProfileDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i32, month: u8, day: u8) -> i64 {
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_real_days_only() {
        assert!(ProfileDate::parse("2026-04-27").is_some());
        assert!(ProfileDate::parse("2024-02-29").is_some());
        for bad in [
            "2026-02-29",
            "2026-13-01",
            "2026-00-10",
            "2026-4-27",
            "26-04-27",
            "2026/04/27",
            "2026-04-27T00:00",
            "+026-04-27",
            "",
        ] {
            assert_eq!(ProfileDate::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn midnight_utc_matches_known_instants() {
        assert_eq!(
            ProfileDate::parse("1970-01-01").unwrap().start_millis(),
            Millis(0)
        );
        // 2026-04-27T00:00:00Z
        assert_eq!(
            ProfileDate::parse("2026-04-27").unwrap().start_millis(),
            Millis::from_unix_seconds(1_777_248_000)
        );
        assert_eq!(
            ProfileDate::parse("2020-03-04").unwrap().to_string(),
            "2020-03-04"
        );
    }
}
