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
