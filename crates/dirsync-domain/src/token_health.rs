//! Okta revokes an API token unused for 30 days; a daily sync keeps it
//! alive. These are the rules every surface (API, CLI) reports by.

use time::{Duration, OffsetDateTime};

/// How long Okta keeps an unused API token alive.
pub const TOKEN_IDLE_LIFETIME: Duration = Duration::days(30);
/// How early a tenant is flagged before its token lapses.
pub const TOKEN_WARNING: Duration = Duration::days(7);

/// When the token lapses if it is not used before then.
pub fn token_lapses_at(last_okta_success: Option<OffsetDateTime>) -> Option<OffsetDateTime> {
    last_okta_success.map(|t| t + TOKEN_IDLE_LIFETIME)
}

/// Within [`TOKEN_WARNING`] of lapsing, or lapsed.
pub fn token_lapse_warning(last_okta_success: Option<OffsetDateTime>, now: OffsetDateTime) -> bool {
    token_lapses_at(last_okta_success).is_some_and(|l| l - now <= TOKEN_WARNING)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_token_lapses_thirty_days_after_its_last_use_and_is_flagged_a_week_ahead() {
        let used = datetime!(2026-11-01 12:00 UTC);
        assert_eq!(token_lapses_at(Some(used)), Some(datetime!(2026-12-01 12:00 UTC)));
        assert!(!token_lapse_warning(Some(used), datetime!(2026-11-24 11:59 UTC)));
        assert!(token_lapse_warning(Some(used), datetime!(2026-11-24 12:00 UTC)));
        assert!(!token_lapse_warning(None, used));
    }
}
