//! Business hours: availability in a named zone (lunch breaks, overnight spans, holidays,
//! daylight saving), validation paths, and the reopening wording in five languages.

use jiff::civil::{Date, date};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;
use switchboard_automation::hours::{Availability, BusinessHours, Holiday, OpeningSpan, Weekday};

fn span(day: Weekday, open: &str, close: &str) -> OpeningSpan {
    OpeningSpan {
        day,
        open: open.to_owned(),
        close: close.to_owned(),
    }
}

fn holiday(date: &str) -> Holiday {
    Holiday {
        date: date.to_owned(),
        name: None,
    }
}

const WORKDAYS: [Weekday; 5] = [
    Weekday::Monday,
    Weekday::Tuesday,
    Weekday::Wednesday,
    Weekday::Thursday,
    Weekday::Friday,
];

/// A shop in Rome: Monday to Friday 09:00–13:00 and 14:00–18:00, closed at weekends.
fn rome_shop() -> BusinessHours {
    BusinessHours {
        time_zone: "Europe/Rome".to_owned(),
        weekly: WORKDAYS
            .iter()
            .flat_map(|&d| [span(d, "09:00", "13:00"), span(d, "14:00", "18:00")])
            .collect(),
        holidays: vec![],
    }
}

/// A bar in Rome, open Friday and Saturday nights 22:00–02:00.
fn rome_bar() -> BusinessHours {
    BusinessHours {
        time_zone: "Europe/Rome".to_owned(),
        weekly: vec![
            span(Weekday::Friday, "22:00", "02:00"),
            span(Weekday::Saturday, "22:00", "02:00"),
        ],
        holidays: vec![],
    }
}

/// A local wall-clock time in Rome as an instant.
fn rome(d: Date, h: i8, m: i8) -> Timestamp {
    d.at(h, m, 0, 0)
        .to_zoned(TimeZone::get("Europe/Rome").unwrap())
        .unwrap()
        .timestamp()
}

fn utc(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn reopens(hours: &BusinessHours, now: Timestamp) -> Timestamp {
    match hours.availability(now) {
        Availability::Closed {
            reopens_at: Some(t),
        } => t,
        other => panic!("expected closed with a reopening at {now}, got {other:?}"),
    }
}

fn is_open(hours: &BusinessHours, now: Timestamp) -> bool {
    hours.availability(now) == Availability::Open
}

fn describe_all(hours: &BusinessHours, now: Timestamp, at: Timestamp) -> [String; 5] {
    ["en", "it_IT", "id_ID", "ar_EG", "fi_FI"].map(|l| hours.describe_reopening(now, at, Some(l)))
}

#[test]
fn tuesday_night_reopens_wednesday_morning() {
    let shop = rome_shop();
    let now = rome(date(2026, 3, 3), 23, 0); // a Tuesday
    let at = reopens(&shop, now);
    assert_eq!(at, rome(date(2026, 3, 4), 9, 0));
    assert_eq!(at, utc("2026-03-04T08:00:00Z"));
    assert_eq!(
        describe_all(&shop, now, at),
        [
            "tomorrow at 09:00",
            "domani alle 09:00",
            "besok pukul 09.00",
            "غدًا الساعة 09:00",
            "huomenna klo 9.00",
        ]
    );
    // No locale, an unknown language, and locale spellings.
    assert_eq!(shop.describe_reopening(now, at, None), "tomorrow at 09:00");
    assert_eq!(
        shop.describe_reopening(now, at, Some("pt_BR")),
        "tomorrow at 09:00"
    );
    assert_eq!(
        shop.describe_reopening(now, at, Some("IT-it")),
        "domani alle 09:00"
    );
    assert_eq!(
        shop.describe_reopening(now, at, Some("ar")),
        "غدًا الساعة 09:00"
    );
}

#[test]
fn friday_evening_reopens_monday() {
    let shop = rome_shop();
    let now = rome(date(2026, 3, 6), 19, 0); // a Friday
    let at = reopens(&shop, now);
    assert_eq!(at, rome(date(2026, 3, 9), 9, 0));
    assert_eq!(
        describe_all(&shop, now, at),
        [
            "on Monday at 09:00",
            "lunedì alle 09:00",
            "hari Senin pukul 09.00",
            "يوم الاثنين الساعة 09:00",
            "maanantaina klo 9.00",
        ]
    );
    // Saturday and Sunday are closed too.
    assert_eq!(reopens(&shop, rome(date(2026, 3, 7), 12, 0)), at);
    assert_eq!(reopens(&shop, rome(date(2026, 3, 8), 23, 59)), at);
}

#[test]
fn lunch_break() {
    let shop = rome_shop();
    let wednesday = date(2026, 3, 4);
    assert!(!is_open(&shop, rome(wednesday, 8, 59)));
    assert!(is_open(&shop, rome(wednesday, 9, 0)));
    assert!(is_open(&shop, rome(wednesday, 12, 59)));
    let now = rome(wednesday, 13, 0);
    let at = reopens(&shop, now);
    assert_eq!(at, rome(wednesday, 14, 0));
    assert_eq!(
        describe_all(&shop, now, at),
        [
            "today at 14:00",
            "oggi alle 14:00",
            "hari ini pukul 14.00",
            "اليوم الساعة 14:00",
            "tänään klo 14.00",
        ]
    );
    assert!(is_open(&shop, rome(wednesday, 14, 0)));
    assert!(is_open(&shop, rome(wednesday, 17, 59)));
    assert!(!is_open(&shop, rome(wednesday, 18, 0)));
}

#[test]
fn a_holiday_on_a_weekday_is_skipped() {
    let mut shop = rome_shop();
    // Tuesday 8 December 2026, the Immaculate Conception.
    shop.holidays = vec![Holiday {
        date: "2026-12-08".to_owned(),
        name: Some("Immacolata".to_owned()),
    }];
    assert!(!is_open(&shop, rome(date(2026, 12, 8), 10, 0)));
    let now = rome(date(2026, 12, 7), 19, 0);
    let at = reopens(&shop, now);
    assert_eq!(at, rome(date(2026, 12, 9), 9, 0));
    assert_eq!(
        shop.describe_reopening(now, at, None),
        "on Wednesday at 09:00"
    );
    assert_eq!(
        shop.describe_reopening(now, at, Some("it")),
        "mercoledì alle 09:00"
    );
    // Other Tuesdays are ordinary.
    assert!(is_open(&shop, rome(date(2026, 12, 15), 10, 0)));
}

#[test]
fn a_long_closure_is_described_by_date() {
    let mut shop = rome_shop();
    // Christmas closure: 24 December to 1 January; back on Monday 4 January 2027.
    shop.holidays = (24..=31)
        .map(|d| holiday(&format!("2026-12-{d}")))
        .chain([holiday("2027-01-01")])
        .collect();
    let now = rome(date(2026, 12, 23), 19, 0);
    let at = reopens(&shop, now);
    assert_eq!(at, rome(date(2027, 1, 4), 9, 0));
    assert_eq!(
        describe_all(&shop, now, at),
        [
            "on 4 January at 09:00",
            "il 4 gennaio alle 09:00",
            "tanggal 4 Januari pukul 09.00",
            "يوم 4 يناير الساعة 09:00",
            "4. tammikuuta klo 9.00",
        ]
    );
    // Italian elides the article before 8 and 11 and says "1º"; 01:xx is "all'".
    let it = |d: Date, h: i8| shop.describe_reopening(now, rome(d, h, 0), Some("it"));
    assert_eq!(it(date(2027, 1, 8), 9), "l'8 gennaio alle 09:00");
    assert_eq!(it(date(2027, 1, 11), 1), "l'11 gennaio all'01:00");
    assert_eq!(it(date(2027, 2, 1), 9), "il 1º febbraio alle 09:00");
    // Half a year or more ahead, the year is said too.
    let far = rome(date(2027, 7, 2), 9, 0);
    assert_eq!(
        shop.describe_reopening(now, far, None),
        "on 2 July 2027 at 09:00"
    );
    assert_eq!(
        shop.describe_reopening(now, far, Some("fi")),
        "2. heinäkuuta 2027 klo 9.00"
    );
}

#[test]
fn overnight_spans_belong_to_the_day_they_open() {
    let bar = rome_bar();
    assert!(bar.validate().is_empty(), "{:?}", bar.validate());
    let friday = date(2026, 6, 5);
    let saturday = date(2026, 6, 6);
    let sunday = date(2026, 6, 7);
    assert!(!is_open(&bar, rome(friday, 21, 59)));
    assert!(is_open(&bar, rome(friday, 22, 0)));
    assert!(is_open(&bar, rome(saturday, 0, 0)));
    assert!(is_open(&bar, rome(saturday, 1, 59)));
    // Saturday 02:00: Friday's night is over; Saturday's starts at 22:00.
    let now = rome(saturday, 2, 0);
    assert_eq!(reopens(&bar, now), rome(saturday, 22, 0));
    assert_eq!(
        bar.describe_reopening(now, rome(saturday, 22, 0), None),
        "today at 22:00"
    );
    assert!(is_open(&bar, rome(sunday, 1, 30)));
    // Sunday 03:00: next Friday night.
    let now = rome(sunday, 3, 0);
    let at = reopens(&bar, now);
    assert_eq!(at, rome(date(2026, 6, 12), 22, 0));
    assert_eq!(bar.describe_reopening(now, at, None), "on Friday at 22:00");
    assert_eq!(
        bar.describe_reopening(now, at, Some("id")),
        "hari Jumat pukul 22.00"
    );
}

#[test]
fn a_holiday_closes_the_whole_day_even_after_midnight() {
    let mut bar = rome_bar();
    bar.holidays = vec![holiday("2026-06-06")]; // the Saturday
    let friday = date(2026, 6, 5);
    let saturday = date(2026, 6, 6);
    assert!(is_open(&bar, rome(friday, 23, 30)));
    // Friday's night stops at the holiday's midnight, and Saturday's night does not open.
    assert!(!is_open(&bar, rome(saturday, 0, 30)));
    assert_eq!(
        reopens(&bar, rome(saturday, 0, 30)),
        rome(date(2026, 6, 12), 22, 0)
    );
}

#[test]
fn sunday_night_runs_into_monday_and_24_00_closes_at_midnight() {
    let hours = BusinessHours {
        time_zone: "Asia/Jakarta".to_owned(),
        weekly: vec![
            span(Weekday::Sunday, "20:00", "03:00"),
            span(Weekday::Monday, "18:00", "24:00"),
        ],
        holidays: vec![],
    };
    assert!(hours.validate().is_empty(), "{:?}", hours.validate());
    // Jakarta is UTC+7 all year.
    assert!(is_open(&hours, utc("2026-03-08T19:30:00Z"))); // Monday 02:30 WIB
    assert!(!is_open(&hours, utc("2026-03-08T20:00:00Z"))); // Monday 03:00 WIB
    assert!(is_open(&hours, utc("2026-03-09T16:59:00Z"))); // Monday 23:59 WIB
    let now = utc("2026-03-09T17:00:00Z"); // Tuesday 00:00 WIB
    let at = reopens(&hours, now);
    assert_eq!(at, utc("2026-03-15T13:00:00Z")); // Sunday 20:00 WIB
    assert_eq!(
        hours.describe_reopening(now, at, Some("id_ID")),
        "hari Minggu pukul 20.00"
    );
}

#[test]
fn daylight_saving_time_is_honoured() {
    let daily = BusinessHours {
        time_zone: "Europe/Rome".to_owned(),
        weekly: Weekday::ALL
            .iter()
            .map(|&d| span(d, "09:00", "18:00"))
            .collect(),
        holidays: vec![],
    };
    // Saturday 28 March 2026 is still CET (UTC+1): 09:00 is 08:00 UTC.
    assert_eq!(
        reopens(&daily, utc("2026-03-28T06:00:00Z")),
        utc("2026-03-28T08:00:00Z")
    );
    // Clocks go forward on Sunday 29 March (last Sunday of March): 09:00 CEST is 07:00 UTC.
    let now = utc("2026-03-28T19:00:00Z");
    let at = reopens(&daily, now);
    assert_eq!(at, utc("2026-03-29T07:00:00Z"));
    assert_eq!(daily.describe_reopening(now, at, None), "tomorrow at 09:00");
    assert!(!is_open(&daily, utc("2026-03-29T06:59:00Z")));
    assert!(is_open(&daily, utc("2026-03-29T07:00:00Z")));
    // And back on Sunday 25 October: 09:00 CET is 08:00 UTC again.
    assert_eq!(
        reopens(&daily, utc("2026-10-24T20:00:00Z")),
        utc("2026-10-25T08:00:00Z")
    );
    assert_eq!(
        daily
            .zone_abbreviation(utc("2026-01-15T12:00:00Z"))
            .as_deref(),
        Some("CET")
    );
    assert_eq!(
        daily
            .zone_abbreviation(utc("2026-07-15T12:00:00Z"))
            .as_deref(),
        Some("CEST")
    );

    // An opening inside the skipped hour (02:30 on 29 March) is read with the offset before the
    // change: 02:30 CET = 01:30 UTC = 03:30 CEST.
    let night = BusinessHours {
        time_zone: "Europe/Rome".to_owned(),
        weekly: vec![span(Weekday::Sunday, "02:30", "05:00")],
        holidays: vec![],
    };
    assert_eq!(
        reopens(&night, utc("2026-03-28T12:00:00Z")),
        utc("2026-03-29T01:30:00Z")
    );
}

#[test]
fn numeric_zone_abbreviations_are_not_offered() {
    let dubai = BusinessHours {
        time_zone: "Asia/Dubai".to_owned(),
        weekly: vec![span(Weekday::Monday, "09:00", "17:00")],
        holidays: vec![],
    };
    assert_eq!(dubai.zone_abbreviation(utc("2026-01-15T12:00:00Z")), None);
}

#[test]
fn nothing_scheduled_means_no_reopening() {
    let mut shop = rome_shop();
    shop.weekly.clear();
    assert_eq!(
        shop.availability(utc("2026-03-03T12:00:00Z")),
        Availability::Closed { reopens_at: None }
    );
    // Every opening day of the coming 366 days a holiday: no reopening either.
    let mut shop = BusinessHours {
        time_zone: "UTC".to_owned(),
        weekly: vec![span(Weekday::Monday, "09:00", "10:00")],
        holidays: vec![],
    };
    let start = date(2026, 1, 1);
    shop.holidays = (0..400)
        .map(|i| {
            holiday(
                &start
                    .checked_add(jiff::Span::new().days(i))
                    .unwrap()
                    .to_string(),
            )
        })
        .collect();
    assert_eq!(
        shop.availability(utc("2026-01-01T00:00:00Z")),
        Availability::Closed { reopens_at: None }
    );
}

fn fields(hours: &BusinessHours) -> Vec<String> {
    hours.validate().into_iter().map(|e| e.field).collect()
}

#[test]
fn invalid_configurations_point_at_the_field() {
    let hours = BusinessHours {
        time_zone: "Europe/Roma".to_owned(),
        weekly: vec![
            span(Weekday::Monday, "09:00", "13:00"),
            span(Weekday::Monday, "9:00", "13:00"),
            span(Weekday::Tuesday, "09:00", "25:00"),
            span(Weekday::Wednesday, "10:00", "10:00"),
            span(Weekday::Monday, "12:00", "15:00"),
            span(Weekday::Thursday, "24:00", "02:00"),
        ],
        holidays: vec![
            holiday("2026-02-30"),
            holiday("2026-12-25"),
            holiday("2026-12-25"),
            holiday("25/12/2026"),
        ],
    };
    assert_eq!(
        fields(&hours),
        [
            "time_zone",
            "weekly[1].open",
            "weekly[2].close",
            "weekly[3].close",
            "weekly[4]",
            "weekly[5].open",
            "holidays[0].date",
            "holidays[2].date",
            "holidays[3].date",
        ]
    );
    let errors = hours.validate();
    assert!(errors[4].message.contains("weekly[0]"), "{}", errors[4]);
    assert!(errors[0].message.contains("Europe/Roma"), "{}", errors[0]);

    // Overlaps across midnight and across the week's end are overlaps too.
    let hours = BusinessHours {
        time_zone: "Europe/Rome".to_owned(),
        weekly: vec![
            span(Weekday::Sunday, "22:00", "03:00"),
            span(Weekday::Monday, "02:00", "06:00"),
            span(Weekday::Friday, "18:00", "24:00"),
            span(Weekday::Saturday, "00:00", "02:00"),
        ],
        holidays: vec![],
    };
    assert_eq!(fields(&hours), ["weekly[1]"]);

    let empty = BusinessHours {
        time_zone: String::new(),
        weekly: vec![],
        holidays: vec![],
    };
    assert_eq!(fields(&empty), ["time_zone", "weekly"]);

    assert!(rome_shop().validate().is_empty());
    assert!(rome_bar().validate().is_empty());
}

#[test]
fn json_shape() {
    let json = r#"{
        "time_zone": "Europe/Rome",
        "weekly": [
            {"day": "monday", "open": "09:00", "close": "13:00"},
            {"day": "sunday", "open": "22:00", "close": "02:00"}
        ],
        "holidays": [{"date": "2026-12-25", "name": "Natale"}]
    }"#;
    let hours: BusinessHours = serde_json::from_str(json).unwrap();
    assert_eq!(hours.weekly[1].day, Weekday::Sunday);
    assert_eq!(hours.holidays[0].name.as_deref(), Some("Natale"));
    let back: BusinessHours =
        serde_json::from_str(&serde_json::to_string(&hours).unwrap()).unwrap();
    assert_eq!(back, hours);
    // Holidays are optional; typos are refused.
    let minimal: BusinessHours =
        serde_json::from_str(r#"{"time_zone":"UTC","weekly":[]}"#).unwrap();
    assert!(minimal.holidays.is_empty());
    assert!(
        serde_json::from_str::<BusinessHours>(
            r#"{"time_zone":"UTC","weekly":[{"day":"Mon","open":"09:00","close":"10:00"}]}"#
        )
        .is_err()
    );
    assert!(
        serde_json::from_str::<BusinessHours>(r#"{"time_zone":"UTC","weekly":[],"holiday":[]}"#)
            .is_err()
    );
}

const ZONES: [&str; 6] = [
    "Europe/Rome",
    "America/New_York",
    "Asia/Jakarta",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
];

fn arb_hours() -> impl Strategy<Value = BusinessHours> {
    let span = (0usize..7, 0u16..96, 1u16..64).prop_map(|(day, start, quarters)| {
        let open = start * 15;
        let close = (open + quarters * 15) % 1440;
        let clock = |m: u16| format!("{:02}:{:02}", m / 60, m % 60);
        OpeningSpan {
            day: Weekday::ALL[day],
            open: clock(open),
            close: if close == 0 {
                "24:00".to_owned()
            } else {
                clock(close)
            },
        }
    });
    (
        0usize..ZONES.len(),
        proptest::collection::vec(span, 0..6),
        proptest::collection::vec(0i64..60, 0..4),
    )
        .prop_map(|(zone, weekly, holidays)| BusinessHours {
            time_zone: ZONES[zone].to_owned(),
            weekly,
            holidays: holidays
                .into_iter()
                .map(|d| {
                    holiday(
                        &date(2026, 1, 1)
                            .checked_add(jiff::Span::new().days(d * 7 + d % 7))
                            .unwrap()
                            .to_string(),
                    )
                })
                .collect(),
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Whenever the hours say "closed until t", t is later, the business is open at t and
    /// still closed a minute before.
    #[test]
    fn reopening_is_the_first_open_minute(
        hours in arb_hours(),
        // 2025-06-01 .. 2028-01-01, to the second.
        seconds in 1_748_736_000i64..1_830_297_600,
    ) {
        let now = Timestamp::from_second(seconds).unwrap();
        if let Availability::Closed { reopens_at: Some(t) } = hours.availability(now) {
            prop_assert!(t > now);
            prop_assert!(t <= now + SignedDuration::from_hours(366 * 24));
            prop_assert_eq!(hours.availability(t), Availability::Open);
            let before = hours.availability(t - SignedDuration::from_mins(1));
            prop_assert!(before != Availability::Open, "open a minute before {}", t);
            // The wording never panics and always says the time.
            let text = hours.describe_reopening(now, t, Some("it"));
            prop_assert!(text.contains(':'), "{}", text);
        }
    }

    /// With at least one span and no holidays, there is always a reopening within a week.
    #[test]
    fn a_weekly_schedule_always_reopens(
        hours in arb_hours(),
        seconds in 1_748_736_000i64..1_830_297_600,
    ) {
        let mut hours = hours;
        hours.holidays.clear();
        prop_assume!(!hours.weekly.is_empty());
        let now = Timestamp::from_second(seconds).unwrap();
        match hours.availability(now) {
            Availability::Open => {}
            Availability::Closed { reopens_at } => {
                let t = reopens_at.expect("a reopening");
                prop_assert!(t <= now + SignedDuration::from_hours(8 * 24));
            }
        }
    }
}
