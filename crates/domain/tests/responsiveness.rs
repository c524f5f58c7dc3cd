//! Meta's response rate, response time and badge (protocols.md D1) on timelines whose figures
//! were worked out by hand from the definition.

use switchboard_domain::responsiveness::{Away, ThreadMessage, counted_messages, responsiveness};
use switchboard_domain::{AuthorKind, Direction, Millis};

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;
/// 2026-06-01T00:00:00Z.
const T0: i64 = 1_780_272_000_000;

fn person(at: i64) -> ThreadMessage {
    ThreadMessage {
        at: Millis(T0 + at),
        direction: Direction::In,
        author: AuthorKind::Contact,
    }
}
fn reply(at: i64, author: AuthorKind) -> ThreadMessage {
    ThreadMessage {
        at: Millis(T0 + at),
        direction: Direction::Out,
        author,
    }
}

#[test]
fn instant_replies_follow_ups_and_away_time_are_left_out_as_meta_does() {
    let away = [Away {
        from: Millis(T0 + 90 * MIN),
        until: Millis(T0 + 3 * HOUR),
    }];
    // Ana: counted at 0; the instant reply does not answer it, the agent's at 10 min does (600 s).
    // Her follow-up at 1 h is the same conversation; so is its reply. 25 h after the last
    // message she writes again — a new conversation — and the bot answers in 2 min (120 s).
    let ana = [
        person(0),
        reply(1_000, AuthorKind::Automation),
        reply(10 * MIN, AuthorKind::Agent),
        person(HOUR),
        reply(HOUR + MIN, AuthorKind::Agent),
        person(HOUR + MIN + 25 * HOUR),
        reply(HOUR + MIN + 25 * HOUR + 2 * MIN, AuthorKind::Bot),
    ];
    // Budi writes at 2 h while the page is away until 3 h: the clock starts at 3 h; the
    // away message does not answer; the agent at 3 h 05 does (300 s, not 65 min).
    let budi = [
        person(2 * HOUR),
        reply(2 * HOUR + 1_000, AuthorKind::Automation),
        reply(3 * HOUR + 5 * MIN, AuthorKind::Agent),
    ];
    // Chiara is never answered; a campaign message is not an answer.
    let chiara = [person(5 * HOUR), reply(6 * HOUR, AuthorKind::Campaign)];
    // Dewi: answered in 40 min (2400 s).
    let dewi = [
        person(30 * HOUR),
        reply(30 * HOUR + 40 * MIN, AuthorKind::Agent),
    ];

    let mut counted = Vec::new();
    for thread in [&ana[..], &budi, &chiara, &dewi] {
        counted.extend(counted_messages(thread, &away));
    }
    assert_eq!(counted.len(), 5, "{counted:?}");
    let r = responsiveness(counted, Millis(T0 + 31 * HOUR));
    // 4 of 5 answered; the fastest 90 % of 4 times is all 4 (rounded up):
    // (120 + 300 + 600 + 2400) / 4 = 855 s.
    assert_eq!(r.counted, 5);
    assert_eq!(r.replied, 4);
    assert_eq!(r.response_rate, Some(0.8));
    assert_eq!(r.response_time_secs, Some(855.0));
    assert!(!r.badge, "80 % is under the badge's 90 %");
}

#[test]
fn the_time_is_the_average_of_the_fastest_ninety_percent_and_earns_the_badge() {
    // Ten people answered in 1, 2, … 10 minutes: the fastest nine average 5 minutes.
    let mut counted = Vec::new();
    for i in 1..=10 {
        let start = i * HOUR;
        counted.extend(counted_messages(
            &[person(start), reply(start + i * MIN, AuthorKind::Agent)],
            &[],
        ));
    }
    let r = responsiveness(counted.clone(), Millis(T0 + DAY));
    assert_eq!(r.response_rate, Some(1.0));
    assert_eq!(r.response_time_secs, Some(300.0));
    assert!(r.badge);
    // Eight days later the same history is outside the badge's 7 days: no badge, same figures.
    let later = responsiveness(counted, Millis(T0 + 9 * DAY));
    assert!(!later.badge);
    assert_eq!(later.badge_counted, 0);
    assert_eq!(later.response_time_secs, Some(300.0));
}

#[test]
fn the_figures_cover_thirty_days_before_the_last_or_at_least_the_last_ten() {
    // Twelve conversations five days apart; the first two were never answered.
    let mut counted = Vec::new();
    for i in 0..12 {
        let start = i * 5 * DAY;
        let thread = if i < 2 {
            vec![person(start)]
        } else {
            vec![person(start), reply(start + MIN, AuthorKind::Agent)]
        };
        counted.extend(counted_messages(&thread, &[]));
    }
    // The 30 days before the last (day 55) hold days 25–55: seven, fewer than ten, so the last
    // ten count (days 10–55), all answered. Over all twelve it would be 10/12.
    let r = responsiveness(counted, Millis(T0 + 56 * DAY));
    assert_eq!(r.counted, 10);
    assert_eq!(r.response_rate, Some(1.0));
    assert_eq!(r.response_time_secs, Some(60.0));
}

#[test]
fn a_reply_that_has_not_happened_yet_does_not_count() {
    let counted = counted_messages(&[person(0), reply(HOUR, AuthorKind::Agent)], &[]);
    let r = responsiveness(counted, Millis(T0 + 30 * MIN));
    assert_eq!(r.response_rate, Some(0.0));
    assert_eq!(r.response_time_secs, None);
}
