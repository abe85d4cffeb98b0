use super::*;
use crate::OktaGroupId;
use time::macros::datetime;

const SIZES: PageSizes = PageSizes {
    users: 200,
    groups: 200,
    members: 1000,
};
const NOW: OffsetDateTime = datetime!(2026-11-30 14:00 UTC);

fn chain(chain: Chain, pages: u64, done: bool, expected_rows: Option<u64>) -> ChainWork {
    ChainWork {
        chain,
        pages,
        done,
        expected_rows,
    }
}

fn members(id: &str, pages: u64, done: bool, rows: Option<u64>) -> ChainWork {
    let group_id = OktaGroupId::from(id);
    chain(Chain::Members { group_id }, pages, done, rows)
}

fn left(requests: u64, rpm: Option<u32>) -> Remaining {
    Remaining {
        requests,
        allowed_rpm: rpm,
        held_until: None,
        pages_behind: 0,
        removal_checks: 0,
    }
}

#[test]
fn nothing_is_expected_before_the_groups_listing_has_ended() {
    let chains = [
        chain(Chain::UsersSlice { index: 0 }, 3, false, None),
        chain(Chain::Groups, 1, false, None),
    ];
    assert_eq!(requests_left(&chains, Some(10_000), true, SIZES), None);
}

#[test]
fn a_full_run_without_the_org_user_count_has_no_estimate() {
    let chains = [
        chain(Chain::UsersSlice { index: 0 }, 3, false, None),
        chain(Chain::Groups, 1, true, None),
    ];
    assert_eq!(requests_left(&chains, None, true, SIZES), None);
}

#[test]
fn users_left_are_the_org_pages_less_those_fetched_with_a_partial_page_per_range() {
    // 10,000 users: 50 full pages, and 4 ranges each end on a page of its own.
    let chains = [
        chain(Chain::UsersSlice { index: 0 }, 10, true, None),
        chain(Chain::UsersSlice { index: 1 }, 10, false, None),
        chain(Chain::UsersSlice { index: 2 }, 10, false, None),
        chain(Chain::UsersSlice { index: 3 }, 5, false, None),
        chain(Chain::UsersCatchUp, 0, false, None),
        chain(Chain::Groups, 2, true, None),
    ];
    let left = requests_left(&chains, Some(10_000), true, SIZES).unwrap();
    assert_eq!(left.list_users, (50 + 3 - 35) + 1);
    assert_eq!(left.list_groups, 0);
}

#[test]
fn every_open_chain_needs_at_least_one_more_request() {
    // Fewer users than Okta said were fetched already: the listing is not over.
    let chains = [
        chain(Chain::UsersSlice { index: 0 }, 9, false, None),
        chain(Chain::Groups, 1, true, None),
        members("00g1", 3, false, Some(2_000)),
        members("00g2", 0, false, None),
    ];
    let left = requests_left(&chains, Some(100), true, SIZES).unwrap();
    assert_eq!(
        left,
        RequestsLeft {
            list_users: 1,
            list_groups: 2
        }
    );
}

#[test]
fn member_chains_left_are_their_counts_in_pages_and_ended_chains_need_nothing() {
    let chains = [
        chain(Chain::Users, 4, true, None),
        chain(Chain::Groups, 1, true, None),
        members("00g1", 0, false, Some(2_500)),
        members("00g2", 1, false, Some(2_500)),
        members("00g3", 7, true, Some(2_500)),
    ];
    let left = requests_left(&chains, None, false, SIZES).unwrap();
    assert_eq!(
        left,
        RequestsLeft {
            list_users: 0,
            list_groups: 3 + 2
        }
    );
}

#[test]
fn the_slower_family_sets_the_fetch_time_and_the_effective_rate() {
    let left = RequestsLeft {
        list_users: 270,
        list_groups: 45,
    };
    let allowance = Allowance {
        list_users: 270,
        list_groups: 225,
    };
    assert_eq!(left.fetch_time(allowance), Duration::from_secs(60));
    assert_eq!(left.effective_rpm(allowance), Some(315));
    assert_eq!(RequestsLeft::default().effective_rpm(allowance), None);
}

#[test]
fn the_finish_is_the_requests_left_at_the_allowed_rate() {
    assert_eq!(
        finish_at(NOW, left(540, Some(270))),
        Some(NOW + Duration::from_secs(120))
    );
    assert_eq!(finish_at(NOW, left(540, None)), None, "no rate, no estimate");
    assert_eq!(finish_at(NOW, left(0, None)), Some(NOW), "nothing left to fetch");
}

#[test]
fn a_hold_writing_and_the_removal_check_come_on_top() {
    let until = NOW + Duration::from_secs(30);
    let remaining = Remaining {
        held_until: Some(until),
        pages_behind: 100,
        removal_checks: 20,
        ..left(270, Some(270))
    };
    let expected = NOW + Duration::from_secs(30 + 60) + WRITE_TIME_PER_PAGE * 100 + REMOVAL_CHECK_TIME * 20;
    assert_eq!(finish_at(NOW, remaining), Some(expected));
}

#[test]
fn a_hold_that_has_passed_or_with_nothing_left_to_fetch_adds_nothing() {
    let past = Remaining {
        held_until: Some(NOW - Duration::from_secs(5)),
        ..left(270, Some(270))
    };
    assert_eq!(finish_at(NOW, past), Some(NOW + Duration::from_secs(60)));
    let fetched = Remaining {
        held_until: Some(NOW + Duration::from_secs(30)),
        ..left(0, Some(270))
    };
    assert_eq!(finish_at(NOW, fetched), Some(NOW));
}
