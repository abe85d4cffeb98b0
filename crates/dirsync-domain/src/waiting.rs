//! What an unfinished run is waiting for right now, in the customer's
//! words: the answer to "why is my sync not done yet?". The store gathers
//! the facts ([`RunFacts`]); the rule that picks one is here.

use crate::RunState;
use time::OffsetDateTime;

/// What a run waits for; `None` (from [`waiting_for`]) once it has ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitingFor {
    /// Not started: `ahead` runs of its queue were queued before it.
    Queued { ahead: u64 },
    /// The limiter holds its requests until Okta's window resets.
    RateLimit { until: OffsetDateTime },
    /// Reading from Okta; `expected` once the worker can tell.
    Fetching { done: u64, expected: Option<u64> },
    /// Every page is fetched; the writers are `pages_behind`.
    Writing { pages_behind: u64 },
    /// Asking Okta by id about the users (and groups) the listing lacked.
    VerifyingRemovals { users: Option<u64>, groups: Option<u64> },
    /// Stopped by the deletion guard: a person confirms the removals.
    Review,
}

/// What the store knows of a run that decides [`WaitingFor`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunFacts {
    pub state: RunState,
    pub now: OffsetDateTime,
    /// Queued runs of the same queue created before this one.
    pub queued_ahead: u64,
    pub rate_limited_until: Option<OffsetDateTime>,
    pub fetch_complete: bool,
    pub removals_requested: bool,
    pub removals_checked: bool,
    pub requests_done: u64,
    pub requests_expected: Option<u64>,
    pub pages_fetched: u64,
    pub pages_written: u64,
    /// Users and groups the removal check asks about, while it runs.
    pub removal_users: Option<u64>,
    pub removal_groups: Option<u64>,
}

/// The one thing the run waits for now (the first that applies: a hold
/// before the rest of the fetch, the fetch before writing, writing before
/// the removal check); `None` once it has ended.
pub fn waiting_for(f: &RunFacts) -> Option<WaitingFor> {
    match f.state {
        RunState::Succeeded | RunState::Failed => None,
        RunState::NeedsReview => Some(WaitingFor::Review),
        RunState::Queued => Some(WaitingFor::Queued { ahead: f.queued_ahead }),
        RunState::Running => Some(match f.rate_limited_until {
            Some(until) if until > f.now && !f.fetch_complete => WaitingFor::RateLimit { until },
            _ if !f.fetch_complete => WaitingFor::Fetching {
                done: f.requests_done,
                expected: f.requests_expected.map(|e| e.max(f.requests_done)),
            },
            _ if f.removals_requested && !f.removals_checked => WaitingFor::VerifyingRemovals {
                users: f.removal_users,
                groups: f.removal_groups,
            },
            _ => WaitingFor::Writing {
                pages_behind: f.pages_fetched.saturating_sub(f.pages_written),
            },
        }),
    }
}

impl WaitingFor {
    /// The machine code (`waiting_for.code` in the API).
    pub fn code(&self) -> &'static str {
        match self {
            WaitingFor::Queued { .. } => "queued",
            WaitingFor::RateLimit { .. } => "rate_limit",
            WaitingFor::Fetching { .. } => "fetching",
            WaitingFor::Writing { .. } => "writing",
            WaitingFor::VerifyingRemovals { .. } => "verifying_removals",
            WaitingFor::Review => "review",
        }
    }

    /// One sentence a customer reads on the product's status page.
    pub fn sentence(&self) -> String {
        match self {
            WaitingFor::Queued { ahead: 0 } => "Queued; it starts as soon as a worker is free".to_owned(),
            WaitingFor::Queued { ahead: 1 } => {
                "Queued behind 1 other sync; it starts when that one finishes".to_owned()
            }
            WaitingFor::Queued { ahead } => {
                format!("Queued behind {ahead} other syncs; it starts when one of them finishes")
            }
            WaitingFor::RateLimit { until } => format!(
                "Waiting for Okta's rate limit until {} UTC; it then goes on by itself",
                clock(*until)
            ),
            WaitingFor::Fetching {
                done,
                expected: Some(expected),
            } => format!("Reading from Okta: {done} of about {expected} requests done"),
            WaitingFor::Fetching { done, expected: None } => {
                format!("Reading from Okta: {done} requests done so far")
            }
            WaitingFor::Writing { pages_behind: 0 } => "Writing to the database: finishing up".to_owned(),
            WaitingFor::Writing { pages_behind } => {
                format!("Writing to the database: {pages_behind} pages behind")
            }
            WaitingFor::VerifyingRemovals { users, groups } => {
                let what = match (users.unwrap_or(0), groups.unwrap_or(0)) {
                    (0, 0) => "the users and groups".to_owned(),
                    (u, 0) => plural(u, "user"),
                    (0, g) => plural(g, "group"),
                    (u, g) => format!("{} and {}", plural(u, "user"), plural(g, "group")),
                };
                format!("Checking with Okta that {what} missing from the listing are really gone")
            }
            WaitingFor::Review => "Waiting for someone to review and confirm its deletions".to_owned(),
        }
    }
}

fn plural(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("the 1 {noun}")
    } else {
        format!("the {n} {noun}s")
    }
}

/// `14:02:10`, UTC.
pub fn clock(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-30 14:00 UTC);

    fn running() -> RunFacts {
        RunFacts {
            state: RunState::Running,
            now: NOW,
            queued_ahead: 0,
            rate_limited_until: None,
            fetch_complete: false,
            removals_requested: false,
            removals_checked: false,
            requests_done: 120,
            requests_expected: Some(410),
            pages_fetched: 100,
            pages_written: 86,
            removal_users: None,
            removal_groups: None,
        }
    }

    #[test]
    fn a_queued_run_counts_the_runs_ahead_of_it() {
        let facts = RunFacts {
            state: RunState::Queued,
            queued_ahead: 3,
            ..running()
        };
        let waiting = waiting_for(&facts).unwrap();
        assert_eq!(waiting.code(), "queued");
        assert_eq!(
            waiting.sentence(),
            "Queued behind 3 other syncs; it starts when one of them finishes"
        );
    }

    #[test]
    fn a_hold_in_the_future_is_a_rate_limit_and_a_past_one_is_fetching() {
        let held = RunFacts {
            rate_limited_until: Some(datetime!(2026-11-30 14:02:10 UTC)),
            ..running()
        };
        assert_eq!(
            waiting_for(&held).unwrap().sentence(),
            "Waiting for Okta's rate limit until 14:02:10 UTC; it then goes on by itself"
        );
        let past = RunFacts {
            rate_limited_until: Some(NOW - time::Duration::seconds(1)),
            ..running()
        };
        assert_eq!(
            waiting_for(&past).unwrap().sentence(),
            "Reading from Okta: 120 of about 410 requests done"
        );
    }

    #[test]
    fn after_the_fetch_the_run_writes_then_checks_removals() {
        let writing = RunFacts {
            fetch_complete: true,
            ..running()
        };
        assert_eq!(
            waiting_for(&writing).unwrap().sentence(),
            "Writing to the database: 14 pages behind"
        );
        let verifying = RunFacts {
            removals_requested: true,
            removal_users: Some(12),
            removal_groups: Some(0),
            ..writing
        };
        assert_eq!(
            waiting_for(&verifying).unwrap().sentence(),
            "Checking with Okta that the 12 users missing from the listing are really gone"
        );
    }

    #[test]
    fn an_ended_run_waits_for_nothing_and_a_review_for_a_person() {
        for state in [RunState::Succeeded, RunState::Failed] {
            assert_eq!(waiting_for(&RunFacts { state, ..running() }), None);
        }
        let review = RunFacts {
            state: RunState::NeedsReview,
            ..running()
        };
        assert_eq!(waiting_for(&review).unwrap().code(), "review");
    }

    #[test]
    fn an_expected_count_below_what_is_done_shows_what_is_done() {
        let over = RunFacts {
            requests_done: 500,
            ..running()
        };
        assert_eq!(
            waiting_for(&over).unwrap().sentence(),
            "Reading from Okta: 500 of about 500 requests done"
        );
    }
}
