//! Unix times as RFC 3339 UTC text (`2026-12-01T14:19:05Z`): the one
//! calendar conversion of the crate (image creation times, shell history
//! timestamps, provenance sidecars), without a date library.

/// Seconds since 1970-01-01 as `YYYY-MM-DDTHH:MM:SSZ` (proleptic Gregorian).
pub(crate) fn rfc3339(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm),
    // unsigned: days >= 0 here.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::rfc3339;

    #[test]
    fn epoch_leap_day_and_today() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_796_134_745), "2026-12-01T14:19:05Z");
        assert_eq!(rfc3339(1_796_158_984), "2026-12-01T21:03:04Z");
        // The largest time: no overflow, a year far beyond any checkpoint.
        assert!(rfc3339(u64::MAX).ends_with('Z'));
    }
}
