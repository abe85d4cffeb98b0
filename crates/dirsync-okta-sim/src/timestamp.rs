//! Okta timestamps: milliseconds since the epoch inside, `2024-03-01T12:34:56.000Z` outside.
//!
//! Keeping them as integers makes filters (`lastUpdated gt "…"`) a plain
//! comparison and the org cheap to clone; they are formatted only when a
//! response is written.

use serde::{Serialize, Serializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Milliseconds since the Unix epoch, UTC.
pub(crate) type Millis = i64;

/// Formats like Okta: millisecond precision, always `Z`.
pub(crate) fn format(ms: Millis) -> String {
    let t = to_datetime(ms);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// Parses what a client may put in a filter: RFC 3339 with or without
/// fractional seconds, `Z` or an offset.
pub(crate) fn parse(s: &str) -> Option<Millis> {
    let t = OffsetDateTime::parse(s, &Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

pub(crate) fn to_datetime(ms: Millis) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// The wall clock, in milliseconds.
pub(crate) fn now() -> Millis {
    i64::try_from(OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
}

/// An RFC 7231 IMF-fixdate (`Thu, 27 Aug 2020 18:15:49 GMT`), as Okta
/// sends in `Date`; the milliseconds are dropped, not rounded.
pub(crate) fn http_date(ms: Millis) -> String {
    let t = to_datetime(ms);
    let weekday = &format!("{:?}", t.weekday())[..3];
    let month = &format!("{:?}", t.month())[..3];
    format!(
        "{weekday}, {:02} {month} {:04} {:02}:{:02}:{:02} GMT",
        t.day(),
        t.year(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Serializes as Okta's timestamp string.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ts(pub(crate) Millis);

impl Serialize for Ts {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_milliseconds_and_z() {
        assert_eq!(format(1_598_552_387_000), "2020-08-27T18:19:47.000Z");
        assert_eq!(format(1_598_552_387_344), "2020-08-27T18:19:47.344Z");
    }

    #[test]
    fn http_dates_are_imf_fixdates() {
        assert_eq!(http_date(1_598_552_149_999), "Thu, 27 Aug 2020 18:15:49 GMT");
        assert_eq!(http_date(1_765_969_144_000), "Wed, 17 Dec 2025 10:59:04 GMT");
    }

    #[test]
    fn parses_what_it_formats_and_plain_rfc3339() {
        assert_eq!(parse("2020-08-27T18:19:47.000Z"), Some(1_598_552_387_000));
        assert_eq!(parse("2020-08-27T18:19:47Z"), Some(1_598_552_387_000));
        assert_eq!(parse("2020-08-27T20:19:47.000+02:00"), Some(1_598_552_387_000));
        assert_eq!(parse("yesterday"), None);
    }
}
