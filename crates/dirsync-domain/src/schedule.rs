//! The daily schedule's rules: which mode a scheduled run takes, how far
//! an incremental run reaches back, which minute of the day a tenant gets.
//! Which failures the schedule retries within the day is
//! [`ErrorCode::retried_by_schedule`](crate::ErrorCode::retried_by_schedule).
//!
//! The store applies them to thousands of tenants at once in SQL
//! (`dirsync-store`'s `schedule.rs`); where a rule has to be spelled there
//! too, the SQL says so, and `tests/e2e/schedule_rules.rs` checks that it
//! agrees with the function here.

use crate::SyncMode;
use std::{ops::RangeInclusive, time::Duration};
use time::OffsetDateTime;
use uuid::Uuid;

/// How far an incremental run reaches back before the last success's
/// start, so a change written while that run was listing is not missed.
pub const INCREMENTAL_OVERLAP: Duration = Duration::from_secs(10 * 60);

/// Minutes in a day: a tenant's `schedule_minute` is one of `0..1440`.
pub const MINUTES_PER_DAY: i32 = 24 * 60;

/// The mode of a run the scheduler creates at `at`: full when there is no
/// success to count changes from, or when the last full success is older
/// than `full_every` (strictly: exactly `full_every` ago is still
/// incremental); incremental otherwise.
pub fn scheduled_mode(
    last_success: Option<OffsetDateTime>,
    last_full_success: Option<OffsetDateTime>,
    at: OffsetDateTime,
    full_every: Duration,
) -> SyncMode {
    match (last_success, last_full_success) {
        (Some(_), Some(full)) if full >= at - full_every => SyncMode::Incremental,
        _ => SyncMode::Full,
    }
}

/// Where an incremental run's window starts: the last success's start (on
/// Okta's clock) minus [`INCREMENTAL_OVERLAP`].
pub fn changed_since(last_success: Option<OffsetDateTime>) -> Option<OffsetDateTime> {
    last_success.map(|t| t - INCREMENTAL_OVERLAP)
}

/// The minutes a new tenant's slot may take: the whole day, or the
/// preferred hour (0–23; the database refuses any other).
pub fn minute_window(preferred_hour: Option<i32>) -> RangeInclusive<i32> {
    match preferred_hour {
        Some(h) => h * 60..=h * 60 + 59,
        None => 0..=MINUTES_PER_DAY - 1,
    }
}

/// The minute of the day a tenant's daily run starts at, in its time zone:
/// its `schedule_minute`, moved into the preferred hour when it has one
/// (same minute past the hour), so slots chosen over the whole day stay
/// spread once admins pick hours.
///
/// The database computes `next_run_at` from this in `dirsync_slot_after`
/// (a migration; it also runs in a trigger), which spells the same rule:
/// `coalesce(preferred_hour * 60 + minute % 60, minute)`.
pub fn minute_of_day(schedule_minute: i32, preferred_hour: Option<i32>) -> i32 {
    match preferred_hour {
        Some(h) => h * 60 + schedule_minute % 60,
        None => schedule_minute,
    }
}

/// The least-loaded minute of `window` for a new tenant, so slots stay even
/// however tenants arrive; `load(m)` is how many tenants have minute `m`.
/// Ties go to the minute with the smallest hash of (tenant, minute): a
/// different order for every tenant, so tenants created at the same moment
/// (each unaware of the other) rarely pick the same minute.
pub fn least_loaded_minute(tenant_id: Uuid, window: RangeInclusive<i32>, load: impl Fn(i32) -> i64) -> i32 {
    let start = *window.start();
    window
        .min_by_key(|&m| (load(m), tie_break(tenant_id, m)))
        .unwrap_or(start)
}

/// A fixed mix (splitmix64's finalizer) of the tenant id and the minute: the
/// same tenant always ranks minutes the same way, across processes and
/// releases (unlike `std`'s randomly seeded hasher).
fn tie_break(tenant_id: Uuid, minute: i32) -> u64 {
    let (high, low) = tenant_id.as_u64_pair();
    let mut z = high ^ low.rotate_left(29) ^ u64::from(minute as u32).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, BTreeSet};
    use time::macros::datetime;

    const WEEK: Duration = Duration::from_secs(7 * 24 * 3600);
    const AT: OffsetDateTime = datetime!(2026-11-29 06:00 UTC);

    #[test]
    fn a_tenant_never_synced_or_never_fully_synced_gets_a_full_run() {
        assert_eq!(scheduled_mode(None, None, AT, WEEK), SyncMode::Full);
        let yesterday = AT - time::Duration::days(1);
        assert_eq!(scheduled_mode(Some(yesterday), None, AT, WEEK), SyncMode::Full);
        // No success to count from: a window needs a start.
        assert_eq!(scheduled_mode(None, Some(yesterday), AT, WEEK), SyncMode::Full);
    }

    #[test]
    fn the_full_run_comes_once_the_last_full_success_is_strictly_older_than_full_every() {
        let yesterday = Some(AT - time::Duration::days(1));
        let full = |ago: time::Duration| scheduled_mode(yesterday, Some(AT - ago), AT, WEEK);
        assert_eq!(full(time::Duration::days(1)), SyncMode::Incremental);
        assert_eq!(
            full(time::Duration::days(7)),
            SyncMode::Incremental,
            "exactly a week: not yet"
        );
        assert_eq!(full(time::Duration::days(7) + time::Duration::SECOND), SyncMode::Full);
        assert_eq!(full(time::Duration::days(8)), SyncMode::Full);
        // A full success in the future (clock skew) is recent enough.
        assert_eq!(full(-time::Duration::hours(1)), SyncMode::Incremental);
    }

    #[test]
    fn an_incremental_window_reaches_ten_minutes_before_the_last_success() {
        assert_eq!(changed_since(None), None);
        assert_eq!(changed_since(Some(AT)), Some(datetime!(2026-11-29 05:50 UTC)));
    }

    #[test]
    fn windows_are_the_whole_day_or_the_preferred_hour() {
        assert_eq!(minute_window(None), 0..=1439);
        assert_eq!(minute_window(Some(0)), 0..=59);
        assert_eq!(minute_window(Some(23)), 1380..=1439);
    }

    #[test]
    fn a_preferred_hour_keeps_the_minute_past_the_hour() {
        assert_eq!(minute_of_day(0, None), 0);
        assert_eq!(minute_of_day(1439, None), 1439);
        assert_eq!(minute_of_day(517, Some(6)), 6 * 60 + 37);
        assert_eq!(minute_of_day(1439, Some(0)), 59);
        assert_eq!(minute_of_day(60, Some(23)), 1380);
    }

    #[test]
    fn a_new_tenant_takes_the_least_loaded_minute_of_its_window() {
        let tenant = Uuid::from_u128(0x0193_1f7e_0000_7000_8000_0000_0000_0001);
        // Every minute of 06:xx taken once but 06:41.
        let load = |m: i32| i64::from(m != 6 * 60 + 41);
        assert_eq!(least_loaded_minute(tenant, minute_window(Some(6)), load), 401);
        // Load outside the window does not matter.
        let busy_morning = |m: i32| if m < 720 { 5 } else { 0 };
        assert!(least_loaded_minute(tenant, minute_window(None), busy_morning) >= 720);
        assert!(minute_window(Some(3)).contains(&least_loaded_minute(tenant, minute_window(Some(3)), busy_morning)));
    }

    #[test]
    fn tenants_created_one_after_another_fill_every_minute_once_before_any_twice() {
        let mut load: BTreeMap<i32, i64> = BTreeMap::new();
        for n in 0..1440 + 10 {
            let tenant = Uuid::from_u128(0x0193_1f7e_0000_7000_8000_0000_0000_0000 + n);
            let m = least_loaded_minute(tenant, minute_window(None), |m| load.get(&m).copied().unwrap_or(0));
            *load.entry(m).or_default() += 1;
            if n < 1440 {
                assert_eq!(load[&m], 1, "tenant {n} doubled minute {m}");
            }
        }
        assert_eq!(load.len(), 1440);
        assert_eq!(load.values().filter(|n| **n == 2).count(), 10);
    }

    #[test]
    fn ties_are_broken_differently_for_each_tenant_and_the_same_way_every_time() {
        let empty = |_| 0;
        let picks: Vec<i32> = (0..100u128)
            .map(|n| Uuid::from_u128(0x0193_1f7e_0000_7000_8000_0000_0000_0000 + (n << 64)))
            .map(|t| least_loaded_minute(t, minute_window(None), empty))
            .collect();
        let distinct: BTreeSet<i32> = picks.iter().copied().collect();
        // 100 tenants over 1,440 empty minutes: a few birthday collisions at most.
        assert!(distinct.len() >= 90, "{} distinct of 100", distinct.len());
        let again: Vec<i32> = (0..100u128)
            .map(|n| Uuid::from_u128(0x0193_1f7e_0000_7000_8000_0000_0000_0000 + (n << 64)))
            .map(|t| least_loaded_minute(t, minute_window(None), empty))
            .collect();
        assert_eq!(picks, again);
    }
}
