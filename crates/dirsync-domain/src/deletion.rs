//! How deletions are decided: the deletion guard.
//!
//! A run never removes anything on absence alone (users and groups are
//! confirmed gone by id, a member listing shorter than its group's
//! `usersCount` removes nobody); this guard then bounds how much a proven
//! removal may take away without a person's confirmation. Each kind (users,
//! groups, memberships) has its own threshold; a run past any of them stops
//! in `needs_review`, applies everything else, and holds its removals.

/// One kind's limit: a run may remove up to `max_percent` of what is stored,
/// or fewer than `min_count`, without a confirmation. Both must be exceeded
/// for the guard to trip, so a 40-user org may lose 5 users (12%) and a
/// 100,000-user org 24 (0.02%) without anyone being asked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Threshold {
    pub max_percent: f64,
    pub min_count: i64,
}

impl Threshold {
    /// Whether removing `removing` of `stored` needs a person's confirmation:
    /// strictly more than the share AND at least the minimum.
    pub fn trips(&self, removing: i64, stored: i64) -> bool {
        removing > 0 && (removing as f64) > (stored as f64) * self.max_percent / 100.0 && removing >= self.min_count
    }
}

/// Counts per kind: what a run would remove, or what is stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub users: i64,
    pub groups: i64,
    pub memberships: i64,
}

/// A tenant's thresholds, one per kind.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DeletionGuard {
    pub users: Threshold,
    pub groups: Threshold,
    pub memberships: Threshold,
}

impl Default for DeletionGuard {
    /// 10% and at least 25 of each kind, as DESIGN.md sets out.
    fn default() -> Self {
        let each = Threshold {
            max_percent: 10.0,
            min_count: 25,
        };
        DeletionGuard {
            users: each,
            groups: each,
            memberships: each,
        }
    }
}

impl DeletionGuard {
    /// The kinds whose removals exceed their threshold (empty: apply them).
    pub fn tripped(&self, removing: Counts, stored: Counts) -> Vec<&'static str> {
        let mut kinds = Vec::new();
        if self.users.trips(removing.users, stored.users) {
            kinds.push("users");
        }
        if self.groups.trips(removing.groups, stored.groups) {
            kinds.push("groups");
        }
        if self.memberships.trips(removing.memberships, stored.memberships) {
            kinds.push("memberships");
        }
        kinds
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEN_PERCENT_25: Threshold = Threshold {
        max_percent: 10.0,
        min_count: 25,
    };

    #[test]
    fn trips_only_above_the_share_and_at_the_minimum() {
        // Exactly 10% of 400 is allowed: the share must be exceeded.
        assert!(!TEN_PERCENT_25.trips(40, 400));
        assert!(TEN_PERCENT_25.trips(41, 400));
        // 50% of 40 users is 20, under the minimum of 25: allowed.
        assert!(!TEN_PERCENT_25.trips(20, 40));
        // The minimum itself counts (>=), once the share is exceeded.
        assert!(TEN_PERCENT_25.trips(25, 200));
        assert!(!TEN_PERCENT_25.trips(24, 200));
        // A large org: the share decides.
        assert!(!TEN_PERCENT_25.trips(9_999, 100_000));
        assert!(TEN_PERCENT_25.trips(10_001, 100_000));
    }

    // The boundary tests below fail if the share's `>` becomes `>=`, the
    // minimum's `>=` becomes `>`, or the AND between them becomes an OR.

    #[test]
    fn removing_exactly_the_share_does_not_trip_and_one_more_does() {
        // 10% of 400 is 40.
        assert!(!TEN_PERCENT_25.trips(40, 400));
        assert!(TEN_PERCENT_25.trips(41, 400));
        // 50% of 400 is 200.
        let half = Threshold {
            max_percent: 50.0,
            min_count: 25,
        };
        assert!(!half.trips(200, 400));
        assert!(half.trips(201, 400));
        // 100% of 400: nothing can exceed it.
        let all = Threshold {
            max_percent: 100.0,
            min_count: 0,
        };
        assert!(!all.trips(400, 400));
    }

    #[test]
    fn past_the_share_but_below_the_minimum_does_not_trip_and_the_minimum_itself_does() {
        // 24 of 100 is 24%, far past 10%, but fewer than 25.
        assert!(!TEN_PERCENT_25.trips(24, 100));
        assert!(TEN_PERCENT_25.trips(25, 100));
    }

    #[test]
    fn at_the_minimum_but_within_the_share_does_not_trip() {
        // 30 of 400 is 7.5%: past the minimum of 25, within 10%.
        assert!(!TEN_PERCENT_25.trips(30, 400));
        assert!(!TEN_PERCENT_25.trips(25, 1_000));
    }

    #[test]
    fn with_nothing_stored_only_the_minimum_decides() {
        // Any removal is past 10% of 0; the minimum still holds.
        assert!(!TEN_PERCENT_25.trips(0, 0));
        assert!(!TEN_PERCENT_25.trips(24, 0));
        assert!(TEN_PERCENT_25.trips(25, 0));
    }

    #[test]
    fn zero_removals_never_trip() {
        for stored in [0, 1, 400, 100_000] {
            assert!(!TEN_PERCENT_25.trips(0, stored));
            let nothing_allowed = Threshold {
                max_percent: 0.0,
                min_count: 0,
            };
            assert!(!nothing_allowed.trips(0, stored), "{stored}");
        }
        assert!(
            DeletionGuard::default()
                .tripped(Counts::default(), Counts::default())
                .is_empty()
        );
    }

    #[test]
    fn the_guard_trips_each_kind_at_its_own_boundary() {
        let guard = DeletionGuard::default();
        let stored = Counts {
            users: 400,
            groups: 400,
            memberships: 400,
        };
        let at_share = Counts {
            users: 40,
            groups: 40,
            memberships: 40,
        };
        assert!(guard.tripped(at_share, stored).is_empty());
        let one_past = |kind: &str| Counts {
            users: if kind == "users" { 41 } else { 40 },
            groups: if kind == "groups" { 41 } else { 40 },
            memberships: if kind == "memberships" { 41 } else { 40 },
        };
        for kind in ["users", "groups", "memberships"] {
            assert_eq!(guard.tripped(one_past(kind), stored), vec![kind]);
        }
        // Past the share of a small kind but below the minimum: none.
        let small = Counts {
            users: 100,
            groups: 100,
            memberships: 100,
        };
        let below_minimum = Counts {
            users: 24,
            groups: 24,
            memberships: 24,
        };
        assert!(guard.tripped(below_minimum, small).is_empty());
    }

    #[test]
    fn nothing_to_remove_never_trips_even_at_zero_thresholds() {
        let zero = Threshold {
            max_percent: 0.0,
            min_count: 0,
        };
        assert!(!zero.trips(0, 0));
        assert!(!zero.trips(0, 10));
        assert!(zero.trips(1, 10));
    }

    #[test]
    fn each_kind_has_its_own_threshold() {
        let guard = DeletionGuard {
            memberships: Threshold {
                max_percent: 50.0,
                min_count: 1,
            },
            ..DeletionGuard::default()
        };
        let stored = Counts {
            users: 1_000,
            groups: 300,
            memberships: 10_000,
        };
        let removing = Counts {
            users: 101,
            groups: 30,
            memberships: 4_000,
        };
        assert_eq!(guard.tripped(removing, stored), vec!["users"]);
        let removing = Counts {
            users: 0,
            groups: 31,
            memberships: 5_001,
        };
        assert_eq!(guard.tripped(removing, stored), vec!["groups", "memberships"]);
        assert!(guard.tripped(Counts::default(), stored).is_empty());
    }
}
