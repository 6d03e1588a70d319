//! UK dates: the day an instant falls on in the United Kingdom (Europe/London), with British
//! Summer Time, and no time-zone database.
//!
//! The UK is on GMT (UTC+0) except from 01:00 UTC on the last Sunday of March to 01:00 UTC on
//! the last Sunday of October, when it is on BST (UTC+1). Devices default the dates people type
//! (registration, referral) to the UK day, whatever zone the device's own clock is set to.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Utc, Weekday};

/// The last Sunday of `month` in `year`, at 01:00 UTC: when the UK's clocks change.
fn change_at(year: i32, month: u32) -> NaiveDateTime {
    let last = NaiveDate::from_ymd_opt(year, month + 1, 1)
        .and_then(|d| d.pred_opt())
        .expect("March and October have a last day");
    let back = last.weekday().num_days_from_sunday();
    let sunday = last - Duration::days(i64::from(back));
    debug_assert_eq!(sunday.weekday(), Weekday::Sun);
    sunday.and_time(NaiveTime::from_hms_opt(1, 0, 0).expect("01:00 is a time"))
}

/// The UK's offset from UTC at an instant, in hours: 1 during British Summer Time, else 0.
pub fn uk_offset_hours(instant: DateTime<Utc>) -> i64 {
    let utc = instant.naive_utc();
    let year = utc.year();
    let bst = change_at(year, 3) <= utc && utc < change_at(year, 10);
    i64::from(bst)
}

/// The UK date of an instant given in seconds since the Unix epoch.
pub fn uk_date(unix_seconds: i64) -> NaiveDate {
    let instant = DateTime::<Utc>::from_timestamp(unix_seconds, 0).unwrap_or_default();
    (instant + Duration::hours(uk_offset_hours(instant))).date_naive()
}

/// Today's date in the UK, by this machine's clock.
pub fn uk_today() -> NaiveDate {
    uk_date(Utc::now().timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> i64 {
        DateTime::parse_from_rfc3339(text)
            .expect("a test instant")
            .timestamp()
    }

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::from_timestamp(at(text), 0).expect("a test instant")
    }

    fn day(text: &str) -> NaiveDate {
        text.parse().expect("a test date")
    }

    #[test]
    fn summer_time_starts_at_one_utc_on_the_last_sunday_of_march() {
        // 2026-03-29 is the last Sunday of March.
        assert_eq!(uk_offset_hours(utc("2026-03-29T00:59:59Z")), 0);
        assert_eq!(uk_offset_hours(utc("2026-03-29T01:00:00Z")), 1);
        assert_eq!(uk_date(at("2026-03-28T23:30:00Z")), day("2026-03-28"));
        assert_eq!(uk_date(at("2026-03-29T00:59:00Z")), day("2026-03-29"));
        assert_eq!(uk_date(at("2026-03-29T01:00:00Z")), day("2026-03-29"));
        // The first evening of summer time: 23:30 UTC is already tomorrow in the UK.
        assert_eq!(uk_date(at("2026-03-29T23:30:00Z")), day("2026-03-30"));
    }

    #[test]
    fn summer_time_ends_at_one_utc_on_the_last_sunday_of_october() {
        // 2026-10-25 is the last Sunday of October.
        assert_eq!(uk_offset_hours(utc("2026-10-25T00:59:59Z")), 1);
        assert_eq!(uk_offset_hours(utc("2026-10-25T01:00:00Z")), 0);
        assert_eq!(uk_date(at("2026-10-24T23:30:00Z")), day("2026-10-25"));
        assert_eq!(uk_date(at("2026-10-25T00:59:00Z")), day("2026-10-25"));
        assert_eq!(uk_date(at("2026-10-25T01:00:00Z")), day("2026-10-25"));
        assert_eq!(uk_date(at("2026-10-25T23:30:00Z")), day("2026-10-25"));
    }

    #[test]
    fn late_evening_is_the_next_day_in_summer_and_the_same_day_in_winter() {
        assert_eq!(uk_date(at("2026-06-15T23:30:00Z")), day("2026-06-16"));
        assert_eq!(uk_date(at("2026-06-15T22:59:59Z")), day("2026-06-15"));
        assert_eq!(uk_date(at("2026-01-15T23:30:00Z")), day("2026-01-15"));
        assert_eq!(uk_date(at("2026-01-15T00:00:00Z")), day("2026-01-15"));
        // New Year's Eve is in winter time.
        assert_eq!(uk_date(at("2026-12-31T23:59:59Z")), day("2026-12-31"));
    }

    #[test]
    fn the_change_days_of_other_years_are_their_last_sundays() {
        for (year, march, october) in [
            (2024, "2024-03-31", "2024-10-27"),
            (2025, "2025-03-30", "2025-10-26"),
            (2027, "2027-03-28", "2027-10-31"),
            (2028, "2028-03-26", "2028-10-29"),
        ] {
            assert_eq!(change_at(year, 3).date(), day(march));
            assert_eq!(change_at(year, 10).date(), day(october));
        }
    }
}
