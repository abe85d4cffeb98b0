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
