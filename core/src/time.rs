//! Postgres' text form of a `timestamp` (without time zone, DateStyle ISO),
//! which the SQLite extension stores in `time` so both engines print the
//! same text.

/// Microseconds since 1970-01-01 00:00:00 UTC, now.
pub fn now_micros() -> i64 {
    let micros = |d: std::time::Duration| i64::try_from(d.as_micros()).unwrap_or(i64::MAX);
    match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        Ok(since) => micros(since),
        // A clock set before 1970 still reads as the moment it is.
        Err(before) => -micros(before.duration()),
    }
}

/// The civil date of a day count from 1970-01-01 (proleptic Gregorian).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Days from 1970-01-01 to a civil date (proleptic Gregorian; year 0 is
/// 1 BC), the inverse of [`civil_from_days`].
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Reads a time of exactly [`format_timestamp`]'s form back
/// (`2026-11-26 17:42:10.123456`, a shorter fraction or none, ` BC`):
/// `None` for any other text, a date that does not exist included.
pub fn parse_timestamp(text: &str) -> Option<i64> {
    let (body, bc) = match text.strip_suffix(" BC") {
        Some(body) => (body, true),
        None => (text, false),
    };
    let (date, clock) = body.split_once(' ')?;
    let mut date_parts = date.splitn(3, '-');
    let (year, month, day) = (date_parts.next()?, date_parts.next()?, date_parts.next()?);
    let (clock, fraction) = match clock.split_once('.') {
        Some((clock, fraction)) => (clock, fraction),
        None => (clock, ""),
    };
    let mut clock_parts = clock.splitn(3, ':');
    let (hour, minute, second) = (
        clock_parts.next()?,
        clock_parts.next()?,
        clock_parts.next()?,
    );
    let number = |digits: &str, max_len: usize| -> Option<i64> {
        if digits.is_empty()
            || digits.len() > max_len
            || !digits.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        digits.parse().ok()
    };
    let shown_year = number(year, 6)?;
    let year = if bc { 1 - shown_year } else { shown_year };
    let (month, day) = (number(month, 2)?, number(day, 2)?);
    let (hour, minute, second) = (number(hour, 2)?, number(minute, 2)?, number(second, 2)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let micros = if fraction.is_empty() {
        0
    } else {
        let digits = number(fraction, 6)?;
        digits * 10_i64.pow(6 - fraction.len() as u32)
    };
    let days = days_from_civil(year, month, day);
    let unix = (days * 86_400 + hour * 3600 + minute * 60 + second)
        .checked_mul(1_000_000)?
        .checked_add(micros)?;
    // Only the exact text: a day past the month's end, a zero-padded
    // fraction or a year written otherwise reads as something else.
    (format_timestamp(unix) == text).then_some(unix)
}

/// `2026-11-26 17:42:10.123456`: the fraction without trailing zeros, none
/// for whole seconds; years before 1 AD as `0001-… BC`, as Postgres prints them.
pub fn format_timestamp(unix_micros: i64) -> String {
    let seconds = unix_micros.div_euclid(1_000_000);
    let micros = unix_micros.rem_euclid(1_000_000);
    let (year, month, day) = civil_from_days(seconds.div_euclid(86_400));
    let of_day = seconds.rem_euclid(86_400);
    let (hour, minute, second) = (of_day / 3600, of_day / 60 % 60, of_day % 60);
    // Year 0 is 1 BC, year -1 is 2 BC.
    let (shown_year, era) = if year <= 0 {
        (1 - year, " BC")
    } else {
        (year, "")
    };
    let mut text = format!("{shown_year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}");
    if micros != 0 {
        let fraction = format!("{micros:06}");
        text.push('.');
        text.push_str(fraction.trim_end_matches('0'));
    }
    text.push_str(era);
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_timestamp_reads_back_what_format_timestamp_writes() {
        for micros in [
            0,
            1,
            -1,
            1_795_716_146_513_973,
            1_795_716_146_500_000,
            951_782_400_000_000, // 2000-02-29
            -62_135_596_800_000_000,
            -62_135_596_800_000_001,
            253_402_300_799_999_999,
            253_402_300_800_000_000,
        ] {
            let text = format_timestamp(micros);
            assert_eq!(parse_timestamp(&text), Some(micros), "{text}");
        }
        for text in [
            "",
            "2026-11-26",
            "2026-11-26 17:42:10.",
            "2026-11-26 17:42:10.1234567",
            "2026-11-26 17:42:10.120",
            "2026-11-26T17:42:10",
            "2026-02-29 00:00:00",
            "2026-13-01 00:00:00",
            "2026-11-26 24:00:00",
            "2026-11-26 17:42:60",
            "26-11-26 17:42:10",
            "+2026-11-26 17:42:10",
            "2026-11-26 17:42:10 BC BC",
            "0000-01-01 00:00:00",
            "2026-1-26 17:42:10",
        ] {
            assert_eq!(parse_timestamp(text), None, "{text:?}");
        }
    }

    /// Postgres 15's output of `(timestamp 'epoch' + make_interval(secs => s))::text`.
    #[test]
    fn matches_postgres_output() {
        let cases = [
            (0, "1970-01-01 00:00:00"),
            (120_000, "1970-01-01 00:00:00.12"),
            (1_000_001, "1970-01-01 00:00:01.000001"),
            (-1_000_000, "1969-12-31 23:59:59"),
            (-62_135_596_800_000_000, "0001-01-01 00:00:00"),
            (-62_135_596_801_000_000, "0001-12-31 23:59:59 BC"),
            (253_402_300_800_000_000, "10000-01-01 00:00:00"),
            (951_782_400_500_000, "2000-02-29 00:00:00.5"),
            (1_795_716_146_513_973, "2026-11-26 18:02:26.513973"),
        ];
        for (micros, text) in cases {
            assert_eq!(format_timestamp(micros), text, "{micros}");
        }
    }

    /// Postgres 15's `(timestamp 'epoch' + make_interval(days => d) +
    /// '<µs> microseconds')::text`, `d` and `µs` splitting the micros.
    #[test]
    fn calendar_edges_match_postgres() {
        let cases = [
            (1, "1970-01-01 00:00:00.000001"),
            (-1, "1969-12-31 23:59:59.999999"),
            (951_868_799_999_999, "2000-02-29 23:59:59.999999"),
            (946_684_799_999_999, "1999-12-31 23:59:59.999999"),
            (4_102_444_800_000_000, "2100-01-01 00:00:00"),
            (4_107_542_400_000_000, "2100-03-01 00:00:00"),
            (-2_208_988_800_000_000, "1900-01-01 00:00:00"),
            (-12_219_292_800_000_000, "1582-10-15 00:00:00"),
            (-62_135_596_800_000_001, "0001-12-31 23:59:59.999999 BC"),
            (-62_167_219_200_000_000, "0001-01-01 00:00:00 BC"),
            (-62_198_755_200_000_000, "0002-01-01 00:00:00 BC"),
            (-210_863_520_000_000_000, "4713-01-01 00:00:00 BC"),
            (i64::MAX, "294247-01-10 04:00:54.775807"),
        ];
        for (micros, text) in cases {
            assert_eq!(format_timestamp(micros), text, "{micros}");
        }
    }

    #[test]
    fn now_is_after_this_was_written() {
        assert!(format_timestamp(now_micros()).as_str() > "2026-11-26");
    }
}
