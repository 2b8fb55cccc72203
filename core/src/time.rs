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
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
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

/// Whether `year` (astronomical: 0 is 1 BC) is a leap year.
pub(crate) fn is_leap_year(year: i64) -> bool {
    year.rem_euclid(4) == 0 && (year.rem_euclid(100) != 0 || year.rem_euclid(400) == 0)
}

/// The number of days of a month (1 to 12) of `year`.
pub(crate) fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Reads a time of exactly [`format_timestamp`]'s form back
/// (`2026-11-26 17:42:10.123456`, a shorter fraction or none, ` BC`):
/// `None` for any other text, a date that does not exist included.
pub fn parse_timestamp(text: &str) -> Option<i64> {
    let (body, bc) = match text.strip_suffix(" BC") {
        Some(body) => (body.as_bytes(), true),
        None => (text.as_bytes(), false),
    };
    // The digits of `b[from..to]`, all of them ASCII digits.
    let number = |from: usize, to: usize| -> Option<i64> {
        let digits = body.get(from..to)?;
        digits.iter().try_fold(0i64, |acc, &d| {
            d.is_ascii_digit().then(|| acc * 10 + i64::from(d - b'0'))
        })
    };
    // The year: four digits, or more without a leading zero.
    let year_len = body.iter().position(|&b| b == b'-')?;
    if !(4..=6).contains(&year_len) || (year_len > 4 && body[0] == b'0') {
        return None;
    }
    let shown_year = number(0, year_len)?;
    let rest = year_len;
    // `-MM-DD HH:MM:SS`, then `.` and 1 to 6 digits, the last not 0.
    let fixed = body.get(rest..rest + 15)?;
    let separators = [(0, b'-'), (3, b'-'), (6, b' '), (9, b':'), (12, b':')];
    if separators.iter().any(|&(at, c)| fixed[at] != c) {
        return None;
    }
    let month = number(rest + 1, rest + 3)?;
    let day = number(rest + 4, rest + 6)?;
    let hour = number(rest + 7, rest + 9)?;
    let minute = number(rest + 10, rest + 12)?;
    let second = number(rest + 13, rest + 15)?;
    let fraction = &body[rest + 15..];
    let micros = match fraction {
        [] => 0,
        [b'.', digits @ ..] if (1..=6).contains(&digits.len()) && digits.last() != Some(&b'0') => {
            let value = number(rest + 16, body.len())?;
            value * 10_i64.pow(6 - digits.len() as u32)
        }
        _ => return None,
    };
    if shown_year == 0 {
        return None;
    }
    let year = if bc { 1 - shown_year } else { shown_year };
    if !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let days = days_from_civil(year, month, day);
    (days * 86_400 + hour * 3600 + minute * 60 + second)
        .checked_mul(1_000_000)?
        .checked_add(micros)
}

/// Reads a time a caller gives as a bound (`remove_messages`'
/// `before_time` on SQLite), in UTC: [`format_timestamp`]'s form
/// (`2026-11-26 17:42:10.123456`), or ISO 8601 with `T` between date and
/// clock; either may end in `Z` or `+00:00`, and a fraction of 1 to 6
/// digits may end in zeros. Only years 0001 to 9999, four digits: within
/// them the stored times' text compares in time order. `None` for any
/// other text, a date that does not exist included.
pub fn parse_time_bound(text: &str) -> Option<i64> {
    let body = text
        .strip_suffix('Z')
        .or_else(|| text.strip_suffix("+00:00"))
        .unwrap_or(text);
    let bytes = body.as_bytes();
    if bytes.len() < 19 || bytes[4] != b'-' || !matches!(bytes[10], b' ' | b'T') {
        return None;
    }
    let mut canonical = String::with_capacity(26);
    canonical.push_str(body.get(..10)?);
    canonical.push(' ');
    canonical.push_str(body.get(11..19)?);
    match body.get(19..)? {
        "" => {}
        fraction => {
            let digits = fraction.strip_prefix('.')?;
            if !(1..=6).contains(&digits.len()) || !digits.bytes().all(|d| d.is_ascii_digit()) {
                return None;
            }
            let significant = digits.trim_end_matches('0');
            if !significant.is_empty() {
                canonical.push('.');
                canonical.push_str(significant);
            }
        }
    }
    parse_timestamp(&canonical)
}

/// Appends `value`, at least `width` digits (zeros in front); `value` is
/// not negative.
pub(crate) fn push_padded(out: &mut String, value: u64, width: usize) {
    let mut digits = [0u8; 20];
    let mut n = value;
    let mut len = 0;
    loop {
        digits[len] = b'0' + (n % 10) as u8;
        n /= 10;
        len += 1;
        if n == 0 {
            break;
        }
    }
    for _ in len..width {
        out.push('0');
    }
    for &digit in digits[..len].iter().rev() {
        out.push(char::from(digit));
    }
}

/// Appends an integer in decimal, as `Display` writes it.
pub(crate) fn push_integer(out: &mut String, value: i64) {
    if value < 0 {
        out.push('-');
    }
    push_padded(out, value.unsigned_abs(), 1);
}

/// `2026-11-26 17:42:10.123456`: the fraction without trailing zeros, none
/// for whole seconds; years before 1 AD as `0001-… BC`, as Postgres prints them.
pub fn format_timestamp(unix_micros: i64) -> String {
    let mut text = String::with_capacity(32);
    push_timestamp(&mut text, unix_micros, false);
    text
}

/// Appends a time: [`format_timestamp`]'s text, or with `line` the export
/// line's form (`T` between date and clock, always six fraction digits).
pub(crate) fn push_timestamp(out: &mut String, unix_micros: i64, line: bool) {
    let seconds = unix_micros.div_euclid(1_000_000);
    let micros = unix_micros.rem_euclid(1_000_000) as u64;
    let (year, month, day) = civil_from_days(seconds.div_euclid(86_400));
    let of_day = seconds.rem_euclid(86_400) as u64;
    // Year 0 is 1 BC, year -1 is 2 BC.
    let (shown_year, bc) = if year <= 0 {
        (1 - year, true)
    } else {
        (year, false)
    };
    push_padded(out, shown_year as u64, 4);
    out.push('-');
    push_padded(out, u64::from(month), 2);
    out.push('-');
    push_padded(out, u64::from(day), 2);
    out.push(if line { 'T' } else { ' ' });
    push_padded(out, of_day / 3600, 2);
    out.push(':');
    push_padded(out, of_day / 60 % 60, 2);
    out.push(':');
    push_padded(out, of_day % 60, 2);
    if line {
        out.push('.');
        push_padded(out, micros, 6);
    } else if micros != 0 {
        let mut fraction = micros;
        let mut width = 6;
        while fraction.is_multiple_of(10) {
            fraction /= 10;
            width -= 1;
        }
        out.push('.');
        push_padded(out, fraction, width);
    }
    if bc {
        out.push_str(" BC");
    }
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
        // Times spread over years 4713 BC to 9999 AD, each read back.
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let span = 253_402_300_800_000_000_i128 + 210_866_803_200_000_000;
            let micros = (i128::from(state >> 1) % span - 210_866_803_200_000_000) as i64;
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
            "02026-11-26 17:42:10",
            "2026-11-26 17:42:10 bc",
            "2026-11-26 17:42:1a",
            "2026-11-26  17:42:10",
            "1900-02-29 00:00:00",
            "0002-02-29 00:00:00 BC",
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
    fn time_bounds_in_utc() {
        let micros = 1_795_716_146_513_973; // 2026-11-26 18:02:26.513973
        for text in [
            "2026-11-26 18:02:26.513973",
            "2026-11-26T18:02:26.513973",
            "2026-11-26T18:02:26.513973Z",
            "2026-11-26T18:02:26.513973+00:00",
            "2026-11-26 18:02:26.513973Z",
        ] {
            assert_eq!(parse_time_bound(text), Some(micros), "{text}");
        }
        for (text, expected) in [
            ("2026-11-26 18:02:26", 1_795_716_146_000_000),
            ("2026-11-26T18:02:26Z", 1_795_716_146_000_000),
            ("2026-11-26T18:02:26.000000Z", 1_795_716_146_000_000),
            ("2026-11-26T18:02:26.5", 1_795_716_146_500_000),
            ("2026-11-26 18:02:26.500", 1_795_716_146_500_000),
            ("2000-01-01 00:00:00", 946_684_800_000_000),
            ("0001-01-01 00:00:00", -62_135_596_800_000_000),
            ("9999-12-31T23:59:59.999999Z", 253_402_300_799_999_999),
        ] {
            assert_eq!(parse_time_bound(text), Some(expected), "{text}");
            // What a bound is compared as: the text the store keeps.
            assert_eq!(
                parse_time_bound(&format_timestamp(expected)),
                Some(expected),
                "{text}"
            );
        }
        for text in [
            "",
            "now",
            "yesterday",
            "2026-11-26",
            "2026-11-26T18:02",
            "2026-11-26T18:02:26+01:00",
            "2026-11-26T18:02:26-00:00",
            "2026-11-26T18:02:26z",
            "2026-11-26t18:02:26",
            "2026-11-26T18:02:26ZZ",
            "2026-11-26T18:02:26.Z",
            "2026-11-26T18:02:26.1234567Z",
            "2026-11-26T18:02:26.12a",
            "2026-11-26 18:02:26 ",
            " 2026-11-26 18:02:26",
            "2026-11-26_18:02:26",
            "2026-02-29 00:00:00",
            "2026-11-26 24:00:00",
            "0000-01-01 00:00:00",
            "0001-01-01 00:00:00 BC",
            "10000-01-01 00:00:00",
            "+2026-11-26 18:02:26",
            "2026-11-26 18:02:26.5 BC",
        ] {
            assert_eq!(parse_time_bound(text), None, "{text:?}");
        }
    }

    #[test]
    fn now_is_after_this_was_written() {
        assert!(format_timestamp(now_micros()).as_str() > "2026-11-26");
    }
}
