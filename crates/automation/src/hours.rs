//! Business hours in a named time zone: open or closed now, when the team is back, and how to
//! say it in the contact's language.
//!
//! Opening spans are local wall-clock times in the business's IANA time zone, so daylight saving
//! is honoured: an opening at 09:00 in Europe/Rome is 08:00 UTC in winter and 07:00 UTC in
//! summer. Local times that do not exist or happen twice on the night the clocks change are
//! resolved the usual way (a skipped time is read with the offset before the change — 02:30 on
//! the spring-forward night is 03:30 — and a repeated time is its first occurrence).
//!
//! A span that closes at or before the time it opens (22:00–02:00) runs overnight and belongs to
//! the day it opens; `24:00` closes at the end of the day. A holiday closes its whole local day:
//! no span opens on it, and an overnight span from the day before stops at its midnight.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::FieldError;
use crate::localized::{language_of, normalise_locale};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusinessHours {
    /// IANA name, e.g. "Europe/Rome".
    pub time_zone: String,
    /// Opening spans per weekday; several per day allowed (lunch break); a day absent = closed.
    /// An overnight span (22:00–02:00) belongs to the day it opens.
    pub weekly: Vec<OpeningSpan>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub holidays: Vec<Holiday>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpeningSpan {
    pub day: Weekday,
    /// `HH:MM`, 24-hour clock, `00:00`–`23:59`.
    pub open: String,
    /// `HH:MM`, `00:00`–`24:00`; at or before `open` means the span runs overnight.
    pub close: String,
}

/// A whole local day closed, e.g. `2026-12-25`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Holiday {
    /// `YYYY-MM-DD`, in the business's time zone.
    pub date: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Weekday {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

impl Weekday {
    pub const ALL: [Weekday; 7] = [
        Weekday::Monday,
        Weekday::Tuesday,
        Weekday::Wednesday,
        Weekday::Thursday,
        Weekday::Friday,
        Weekday::Saturday,
        Weekday::Sunday,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Weekday::Monday => "monday",
            Weekday::Tuesday => "tuesday",
            Weekday::Wednesday => "wednesday",
            Weekday::Thursday => "thursday",
            Weekday::Friday => "friday",
            Weekday::Saturday => "saturday",
            Weekday::Sunday => "sunday",
        }
    }

    /// Monday = 0 … Sunday = 6.
    fn index(self) -> usize {
        self as usize
    }

    fn of(date: Date) -> Weekday {
        Weekday::ALL[usize::from(date.weekday().to_monday_zero_offset().unsigned_abs())]
    }
}

/// Open now, or closed with the moment the next opening starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Availability {
    Open,
    Closed {
        /// `None`: no opening in the next 366 days.
        reopens_at: Option<Timestamp>,
    },
}

const DAY_MINUTES: u16 = 24 * 60;
/// How far ahead [`BusinessHours::availability`] looks for a reopening.
const HORIZON_DAYS: i64 = 366;
/// From this many days ahead, [`BusinessHours::describe_reopening`] says the year too.
const SAY_YEAR_FROM_DAYS: i32 = 183;

/// `HH:MM` → minutes since midnight; `24:00` only where `allow_24` (a closing time).
fn parse_clock(s: &str, allow_24: bool) -> Option<u16> {
    let b = s.as_bytes();
    if b.len() != 5 || b[2] != b':' || ![b[0], b[1], b[3], b[4]].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let hours = u16::from(b[0] - b'0') * 10 + u16::from(b[1] - b'0');
    let minutes = u16::from(b[3] - b'0') * 10 + u16::from(b[4] - b'0');
    match (hours, minutes) {
        (0..=23, 0..=59) => Some(hours * 60 + minutes),
        (24, 0) if allow_24 => Some(DAY_MINUTES),
        _ => None,
    }
}

/// A strict `YYYY-MM-DD`.
fn parse_date(s: &str) -> Option<Date> {
    let b = s.as_bytes();
    let shape = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shape {
        return None;
    }
    s.parse().ok()
}

/// One span in minutes from the start of the day it opens; `end` > 1440 runs overnight.
#[derive(Debug, Clone, Copy)]
struct Minutes {
    day: Weekday,
    start: u16,
    end: u16,
}

impl OpeningSpan {
    fn minutes(&self) -> Option<Minutes> {
        let start = parse_clock(&self.open, false)?;
        let close = parse_clock(&self.close, true)?;
        let end = if close > start {
            close
        } else if close == start {
            return None;
        } else {
            close + DAY_MINUTES
        };
        Some(Minutes {
            day: self.day,
            start,
            end,
        })
    }
}

impl BusinessHours {
    /// Every mistake, with paths relative to the business hours (`time_zone`, `weekly[2].close`,
    /// `holidays[0].date`).
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if self.time_zone.trim().is_empty() {
            errors.push(FieldError::new(
                "time_zone",
                "needs an IANA time zone name such as Europe/Rome",
            ));
        } else if TimeZone::get(&self.time_zone).is_err() {
            errors.push(FieldError::new(
                "time_zone",
                format!(
                    "unknown time zone \"{}\"; use an IANA name such as Europe/Rome or Asia/Jakarta",
                    self.time_zone
                ),
            ));
        }
        if self.weekly.is_empty() {
            errors.push(FieldError::new(
                "weekly",
                "needs at least one opening span; without any the team is always away",
            ));
        }
        let mut spans: Vec<(usize, Minutes)> = Vec::new();
        for (i, span) in self.weekly.iter().enumerate() {
            let open = parse_clock(&span.open, false);
            let close = parse_clock(&span.close, true);
            if open.is_none() {
                errors.push(FieldError::new(
                    format!("weekly[{i}].open"),
                    format!(
                        "\"{}\" is not a time HH:MM between 00:00 and 23:59",
                        span.open
                    ),
                ));
            }
            if close.is_none() {
                errors.push(FieldError::new(
                    format!("weekly[{i}].close"),
                    format!(
                        "\"{}\" is not a time HH:MM between 00:00 and 24:00",
                        span.close
                    ),
                ));
            }
            if let (Some(open), Some(close)) = (open, close)
                && open == close
            {
                errors.push(FieldError::new(
                    format!("weekly[{i}].close"),
                    "closes when it opens; for the whole day use 00:00–24:00",
                ));
            }
            if let Some(m) = span.minutes() {
                for &(j, other) in &spans {
                    if overlap(m, other) {
                        errors.push(FieldError::new(
                            format!("weekly[{i}]"),
                            format!(
                                "overlaps weekly[{j}] ({} {}–{})",
                                other.day.as_str(),
                                self.weekly[j].open,
                                self.weekly[j].close
                            ),
                        ));
                    }
                }
                spans.push((i, m));
            }
        }
        let mut seen: Vec<(Date, usize)> = Vec::new();
        for (i, holiday) in self.holidays.iter().enumerate() {
            match parse_date(&holiday.date) {
                None => errors.push(FieldError::new(
                    format!("holidays[{i}].date"),
                    format!("\"{}\" is not a date YYYY-MM-DD", holiday.date),
                )),
                Some(date) => match seen.iter().find(|(d, _)| *d == date) {
                    Some((_, j)) => errors.push(FieldError::new(
                        format!("holidays[{i}].date"),
                        format!("{date} is already holidays[{j}]"),
                    )),
                    None => seen.push((date, i)),
                },
            }
        }
        errors
    }

    /// Open at `now`, or closed and when the next opening starts (within 366 days). Spans,
    /// holidays or a zone that `validate` refuses are read leniently: a span or holiday that
    /// does not parse is ignored and an unknown zone is taken as UTC.
    pub fn availability(&self, now: Timestamp) -> Availability {
        let tz = self.zone();
        let spans: Vec<Minutes> = self
            .weekly
            .iter()
            .filter_map(OpeningSpan::minutes)
            .collect();
        let holidays: BTreeSet<Date> = self
            .holidays
            .iter()
            .filter_map(|h| parse_date(&h.date))
            .collect();
        let today = now.to_zoned(tz.clone()).date();
        let Ok(horizon) = now.checked_add(SignedDuration::from_hours(HORIZON_DAYS * 24)) else {
            return Availability::Closed { reopens_at: None };
        };
        let mut best: Option<(Timestamp, Date)> = None;
        let Ok(mut day) = today.yesterday() else {
            return Availability::Closed { reopens_at: None };
        };
        // Yesterday (for an overnight span still running), today, and on until one day past the
        // day of the earliest reopening found (a skipped hour can reorder adjacent days).
        for _ in 0..HORIZON_DAYS + 3 {
            if let Some((_, found)) = best
                && day > today
                && found.tomorrow().is_ok_and(|after| day > after)
            {
                break;
            }
            if !holidays.contains(&day) {
                for span in spans.iter().filter(|s| s.day == Weekday::of(day)) {
                    let Some((start, end)) = interval(&tz, day, *span, &holidays) else {
                        continue;
                    };
                    if start <= now && now < end {
                        return Availability::Open;
                    }
                    if start > now && start <= horizon && best.is_none_or(|(b, _)| start < b) {
                        best = Some((start, day));
                    }
                }
            }
            match day.tomorrow() {
                Ok(next) => day = next,
                Err(_) => break,
            }
        }
        Availability::Closed {
            reopens_at: best.map(|(t, _)| t),
        }
    }

    /// When the team is back, for an away message: "today at 14:00", "tomorrow at 09:00",
    /// "on Monday at 09:00" (within the week), "on 2 January at 09:00" (further; the year is
    /// added from 183 days ahead) — in the contact's language: English (the default), Italian,
    /// Indonesian, Arabic or Finnish.
    ///
    /// Days and times are those of the business's time zone, 24-hour clock, in each language's
    /// usual notation (`09:00`, Indonesian `09.00`, Finnish `klo 9.00`; Western digits in
    /// Arabic, as the seeds and most Arabic-speaking users on these platforms write them). No
    /// zone is appended: a business's hours are read by its own customers, who almost always
    /// share its zone, and the abbreviations people would recognise are the exception (the
    /// tz database gives "+04" for Dubai, and "CET" means little in Jakarta); we do not know the
    /// contact's zone to tell when it would help. [`BusinessHours::zone_abbreviation`] is there
    /// for a message that wants to say it.
    pub fn describe_reopening(
        &self,
        now: Timestamp,
        reopens_at: Timestamp,
        locale: Option<&str>,
    ) -> String {
        let tz = self.zone();
        let now_local = now.to_zoned(tz.clone());
        let at = reopens_at.to_zoned(tz);
        let days = now_local
            .date()
            .until(at.date())
            .map(|span| span.get_days())
            .unwrap_or(i32::MAX);
        let when = match days {
            0 => When::Today,
            1 => When::Tomorrow,
            2..=6 => When::Weekday(Weekday::of(at.date())),
            _ => When::Date {
                day: at.day(),
                month: at.month(),
                year: (!(0..SAY_YEAR_FROM_DAYS).contains(&days)).then_some(at.year()),
            },
        };
        let (hour, minute) = (at.hour(), at.minute());
        let language = locale.map(normalise_locale).unwrap_or_default();
        match language_of(&language) {
            "it" => italian(when, hour, minute),
            "id" => indonesian(when, hour, minute),
            "ar" => arabic(when, hour, minute),
            "fi" => finnish(when, hour, minute),
            _ => english(when, hour, minute),
        }
    }

    /// The zone's abbreviation at `at` when it is made of letters ("CET", "CEST", "WIB", "EST");
    /// `None` for numeric ones the tz database uses where no abbreviation is in common use
    /// ("+04").
    pub fn zone_abbreviation(&self, at: Timestamp) -> Option<String> {
        let tz = self.zone();
        let info = tz.to_offset_info(at);
        let abbreviation = info.abbreviation();
        (!abbreviation.is_empty() && abbreviation.chars().all(|c| c.is_ascii_alphabetic()))
            .then(|| abbreviation.to_owned())
    }

    /// The configured zone, or UTC when it is unknown (which `validate` reports).
    fn zone(&self) -> TimeZone {
        TimeZone::get(&self.time_zone).unwrap_or(TimeZone::UTC)
    }
}

/// Whether two spans share a minute, on the weekly circle (Sunday night runs into Monday).
fn overlap(a: Minutes, b: Minutes) -> bool {
    const WEEK: i32 = 7 * DAY_MINUTES as i32;
    let range = |m: Minutes| {
        let start = m.day.index() as i32 * i32::from(DAY_MINUTES) + i32::from(m.start);
        (start, start + i32::from(m.end - m.start))
    };
    let (a0, a1) = range(a);
    let (b0, b1) = range(b);
    [-WEEK, 0, WEEK]
        .iter()
        .any(|shift| a0 < b1 + shift && b0 + shift < a1)
}

fn civil(date: Date, minutes: u16) -> DateTime {
    date.at((minutes / 60) as i8, (minutes % 60) as i8, 0, 0)
}

/// The instants a span on `day` opens and closes; `None` if empty or out of range.
fn interval(
    tz: &TimeZone,
    day: Date,
    span: Minutes,
    holidays: &BTreeSet<Date>,
) -> Option<(Timestamp, Timestamp)> {
    let start = tz.to_timestamp(civil(day, span.start)).ok()?;
    let next = day.tomorrow().ok()?;
    let midnight = || tz.to_timestamp(civil(next, 0)).ok();
    let end = if span.end < DAY_MINUTES {
        tz.to_timestamp(civil(day, span.end)).ok()?
    } else if span.end == DAY_MINUTES || holidays.contains(&next) {
        midnight()?
    } else {
        tz.to_timestamp(civil(next, span.end - DAY_MINUTES)).ok()?
    };
    (start < end).then_some((start, end))
}

#[derive(Debug, Clone, Copy)]
enum When {
    Today,
    Tomorrow,
    Weekday(Weekday),
    Date {
        day: i8,
        month: i8,
        year: Option<i16>,
    },
}

fn with_year(mut s: String, year: Option<i16>) -> String {
    if let Some(y) = year {
        let _ = write!(s, " {y}");
    }
    s
}

fn english(when: When, hour: i8, minute: i8) -> String {
    const DAYS: [&str; 7] = [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ];
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    let day = match when {
        When::Today => "today".to_owned(),
        When::Tomorrow => "tomorrow".to_owned(),
        When::Weekday(w) => format!("on {}", DAYS[w.index()]),
        When::Date { day, month, year } => {
            with_year(format!("on {day} {}", MONTHS[month as usize - 1]), year)
        }
    };
    format!("{day} at {hour:02}:{minute:02}")
}

fn italian(when: When, hour: i8, minute: i8) -> String {
    const DAYS: [&str; 7] = [
        "lunedì",
        "martedì",
        "mercoledì",
        "giovedì",
        "venerdì",
        "sabato",
        "domenica",
    ];
    const MONTHS: [&str; 12] = [
        "gennaio",
        "febbraio",
        "marzo",
        "aprile",
        "maggio",
        "giugno",
        "luglio",
        "agosto",
        "settembre",
        "ottobre",
        "novembre",
        "dicembre",
    ];
    let day = match when {
        When::Today => "oggi".to_owned(),
        When::Tomorrow => "domani".to_owned(),
        When::Weekday(w) => DAYS[w.index()].to_owned(),
        When::Date { day, month, year } => {
            let month = MONTHS[month as usize - 1];
            let date = match day {
                1 => format!("il 1º {month}"),
                8 | 11 => format!("l'{day} {month}"),
                _ => format!("il {day} {month}"),
            };
            with_year(date, year)
        }
    };
    // "all'una": the article elides before 1 o'clock.
    let at = if hour == 1 { "all'" } else { "alle " };
    format!("{day} {at}{hour:02}:{minute:02}")
}

fn indonesian(when: When, hour: i8, minute: i8) -> String {
    const DAYS: [&str; 7] = [
        "Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu",
    ];
    const MONTHS: [&str; 12] = [
        "Januari",
        "Februari",
        "Maret",
        "April",
        "Mei",
        "Juni",
        "Juli",
        "Agustus",
        "September",
        "Oktober",
        "November",
        "Desember",
    ];
    let day = match when {
        When::Today => "hari ini".to_owned(),
        When::Tomorrow => "besok".to_owned(),
        When::Weekday(w) => format!("hari {}", DAYS[w.index()]),
        When::Date { day, month, year } => with_year(
            format!("tanggal {day} {}", MONTHS[month as usize - 1]),
            year,
        ),
    };
    format!("{day} pukul {hour:02}.{minute:02}")
}

fn arabic(when: When, hour: i8, minute: i8) -> String {
    const DAYS: [&str; 7] = [
        "الاثنين",
        "الثلاثاء",
        "الأربعاء",
        "الخميس",
        "الجمعة",
        "السبت",
        "الأحد",
    ];
    const MONTHS: [&str; 12] = [
        "يناير",
        "فبراير",
        "مارس",
        "أبريل",
        "مايو",
        "يونيو",
        "يوليو",
        "أغسطس",
        "سبتمبر",
        "أكتوبر",
        "نوفمبر",
        "ديسمبر",
    ];
    let day = match when {
        When::Today => "اليوم".to_owned(),
        When::Tomorrow => "غدًا".to_owned(),
        When::Weekday(w) => format!("يوم {}", DAYS[w.index()]),
        When::Date { day, month, year } => {
            with_year(format!("يوم {day} {}", MONTHS[month as usize - 1]), year)
        }
    };
    format!("{day} الساعة {hour:02}:{minute:02}")
}

fn finnish(when: When, hour: i8, minute: i8) -> String {
    const DAYS: [&str; 7] = [
        "maanantaina",
        "tiistaina",
        "keskiviikkona",
        "torstaina",
        "perjantaina",
        "lauantaina",
        "sunnuntaina",
    ];
    const MONTHS: [&str; 12] = [
        "tammikuuta",
        "helmikuuta",
        "maaliskuuta",
        "huhtikuuta",
        "toukokuuta",
        "kesäkuuta",
        "heinäkuuta",
        "elokuuta",
        "syyskuuta",
        "lokakuuta",
        "marraskuuta",
        "joulukuuta",
    ];
    let day = match when {
        When::Today => "tänään".to_owned(),
        When::Tomorrow => "huomenna".to_owned(),
        When::Weekday(w) => DAYS[w.index()].to_owned(),
        When::Date { day, month, year } => {
            with_year(format!("{day}. {}", MONTHS[month as usize - 1]), year)
        }
    };
    format!("{day} klo {hour}.{minute:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clocks() {
        assert_eq!(parse_clock("09:00", false), Some(540));
        assert_eq!(parse_clock("23:59", false), Some(1439));
        assert_eq!(parse_clock("24:00", false), None);
        assert_eq!(parse_clock("24:00", true), Some(1440));
        assert_eq!(parse_clock("24:01", true), None);
        assert_eq!(parse_clock("9:00", false), None);
        assert_eq!(parse_clock("09:60", false), None);
        assert_eq!(parse_clock("0900", false), None);
        assert_eq!(parse_clock("+9:00", false), None);
    }

    #[test]
    fn dates() {
        assert!(parse_date("2026-12-25").is_some());
        assert!(parse_date("2026-02-30").is_none());
        assert!(parse_date("2026-1-05").is_none());
        assert!(parse_date("20261225").is_none());
    }
}
