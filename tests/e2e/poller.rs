//! The System Log poller end to end: changes made in okta-sim reach
//! PostgreSQL minutes-fresh, between daily runs, with the copy exact
//! afterwards; the rules that keep it safe (no write under a running
//! sync, one poller per tenant) and the Event Hook in [`poller`]'s
//! submodules.

mod hook;
mod safety;

use crate::harness::{TestEnv, spec};
use crate::protocol::profile;
use dirsync_domain::{RunState, TenantId};
use dirsync_okta_sim::{Org, SimConfig, UserStatus};
use dirsync_store::Store;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// The acceptance bound: every change in PostgreSQL within two minutes.
const BOUND: Duration = Duration::from_secs(120);

/// What a change must look like in PostgreSQL once it has arrived.
#[derive(Debug, Clone)]
enum Expect {
    Title(String, &'static str),
    Status(String, &'static str),
    UserStored(String),
    UserRemoved(String),
    Member(String, String, bool),
    GroupName(String, &'static str),
    GroupRemoved(String),
}

impl Expect {
    async fn holds(&self, store: &Store, tenant: TenantId) -> bool {
        let pool = store.pool();
        let one = |sql: &'static str| sqlx::query_scalar::<_, bool>(sql).bind(tenant);
        let found = match self {
            Expect::Title(id, title) => one(
                "SELECT coalesce((SELECT title = $3 FROM users WHERE tenant_id = $1 AND okta_id = $2), false)",
            )
            .bind(id)
            .bind(title)
            .fetch_one(pool),
            Expect::Status(id, status) => one(
                "SELECT coalesce((SELECT status = $3 FROM users WHERE tenant_id = $1 AND okta_id = $2), false)",
            )
            .bind(id)
            .bind(status)
            .fetch_one(pool),
            Expect::UserStored(id) => one(
                "SELECT EXISTS (SELECT 1 FROM users WHERE tenant_id = $1 AND okta_id = $2 AND deleted_at IS NULL)",
            )
            .bind(id)
            .fetch_one(pool),
            Expect::UserRemoved(id) => one(
                "SELECT EXISTS (SELECT 1 FROM users WHERE tenant_id = $1 AND okta_id = $2 AND deleted_at IS NOT NULL)",
            )
            .bind(id)
            .fetch_one(pool),
            Expect::Member(group, user, member) => one(
                "SELECT EXISTS (SELECT 1 FROM group_members WHERE tenant_id = $1 AND group_id = $2 AND user_id = $3) = $4",
            )
            .bind(group)
            .bind(user)
            .bind(member)
            .fetch_one(pool),
            Expect::GroupName(id, name) => one(
                "SELECT coalesce((SELECT name = $3 FROM groups WHERE tenant_id = $1 AND okta_id = $2), false)",
            )
            .bind(id)
            .bind(name)
            .fetch_one(pool),
            Expect::GroupRemoved(id) => one(
                "SELECT EXISTS (SELECT 1 FROM groups WHERE tenant_id = $1 AND okta_id = $2 AND deleted_at IS NOT NULL)",
            )
            .bind(id)
            .fetch_one(pool),
        };
        found.await.expect("read the copy")
    }
}

/// The poller's settings in these tests: Okta's changes come in seconds.
pub(crate) fn fast_poller(config: &mut dirsync::Config) {
    config.poller.enabled = true;
    config.poller.interval = 2;
    config.poller.max_interval = 8;
    config.poller.tick_ms = 200;
}

/// Applies one change of every kind the poller follows; returns what each
/// must look like in PostgreSQL.
fn one_change_of_each_kind(org: &mut Org, step: usize) -> Option<(&'static str, Expect)> {
    let active: Vec<String> = org
        .users()
        .iter()
        .filter(|u| u.status() == UserStatus::Active)
        .map(|u| u.id().to_owned())
        .collect();
    let plain: Vec<String> = org
        .groups()
        .iter()
        .filter(|g| g.group_type() == dirsync_okta_sim::GroupType::OktaGroup)
        .map(|g| g.id().to_owned())
        .collect();
    let outsider = |org: &Org, group: &str| {
        active
            .iter()
            .find(|u| !org.members(group).contains(&u.as_str()))
            .cloned()
    };
    let insider = |org: &Org, group: &str| org.members(group).first().map(|u| (*u).to_owned());
    Some(match step {
        0 => {
            let Value::Object(change) = json!({"title": "Head of Freshness"}) else {
                unreachable!()
            };
            org.update_user(&active[0], change).unwrap();
            ("profile edit", Expect::Title(active[0].clone(), "Head of Freshness"))
        }
        1 => {
            org.suspend_user(&active[1]).unwrap();
            ("status change", Expect::Status(active[1].clone(), "SUSPENDED"))
        }
        2 => {
            let id = org
                .create_user(profile("fresh.hire@example.com"), UserStatus::Active)
                .unwrap();
            ("new user", Expect::UserStored(id))
        }
        3 => {
            let user = outsider(org, &plain[0])?;
            org.add_member(&plain[0], &user).unwrap();
            ("membership added", Expect::Member(plain[0].clone(), user, true))
        }
        4 => {
            let user = insider(org, &plain[1])?;
            org.remove_member(&plain[1], &user).unwrap();
            ("membership removed", Expect::Member(plain[1].clone(), user, false))
        }
        5 => {
            org.rename_group(&plain[2], "Renamed by the poller test").unwrap();
            (
                "group renamed",
                Expect::GroupName(plain[2].clone(), "Renamed by the poller test"),
            )
        }
        6 => {
            org.delete_group(&plain[3]).unwrap();
            ("group deleted", Expect::GroupRemoved(plain[3].clone()))
        }
        7 => {
            org.deactivate_user(&active[2]).unwrap();
            org.delete_user(&active[2]).unwrap();
            ("user deleted", Expect::UserRemoved(active[2].clone()))
        }
        _ => return None,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn changes_in_okta_reach_postgres_within_two_minutes_with_the_poller_on() {
    let env = TestEnv::start_with("poller", spec(300, 12, 4242), SimConfig::default(), fast_poller).await;
    let tenant = env.tenant("acme", env.sim.token()).await;
    assert_eq!(env.sync(tenant).await.state(), RunState::Succeeded);
    let polling = Instant::now();

    // Changes a second apart, as people make them; each is timed from its
    // mutation in okta-sim to its row in PostgreSQL.
    let mut pending = Vec::new();
    for step in 0.. {
        let Some((what, expect)) = env.sim.with_org(|org| one_change_of_each_kind(org, step)) else {
            break;
        };
        pending.push((what, expect, Instant::now()));
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert_eq!(pending.len(), 8, "every kind of change was made");
    let mut latencies = Vec::new();
    while !pending.is_empty() {
        let mut still = Vec::new();
        for (what, expect, made) in pending {
            if expect.holds(&env.store, tenant).await {
                latencies.push((what, made.elapsed()));
            } else {
                assert!(
                    made.elapsed() < BOUND,
                    "{what} ({expect:?}) not in PostgreSQL after {BOUND:?}"
                );
                still.push((what, expect, made));
            }
        }
        pending = still;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Exact afterwards: users, groups (their `lastMembershipUpdated` too)
    // and memberships, Everyone's included, with no run since the first.
    env.assert_exact(tenant).await;
    let events: Vec<String> =
        sqlx::query_scalar("SELECT event_type FROM change_events WHERE tenant_id = $1 AND run_id IS NULL ORDER BY id")
            .bind(tenant)
            .fetch_all(env.store.pool())
            .await
            .unwrap();
    for kind in [
        "user.created",
        "user.updated",
        "user.suspended",
        "user.deleted",
        "group.updated",
        "group.deleted",
        "membership.added",
        "membership.removed",
    ] {
        assert!(
            events.iter().any(|e| e.starts_with(kind)),
            "a {kind} event in {events:?}"
        );
    }

    let mut sorted: Vec<Duration> = latencies.iter().map(|(_, d)| *d).collect();
    sorted.sort();
    let p95 = sorted[(sorted.len() * 95).div_ceil(100) - 1];
    let cursor = env.store.system_log().cursor(tenant).await.unwrap().expect("a cursor");
    let hours = polling.elapsed().as_secs_f64() / 3600.0;
    for (what, latency) in &latencies {
        println!("poller latency: {what:<20} {:>6.2} s", latency.as_secs_f64());
    }
    println!(
        "poller: {} changes, p95 {:.2} s, {} Okta requests in {:.0} s ({:.0} per tenant-hour at this change rate)",
        latencies.len(),
        p95.as_secs_f64(),
        cursor.okta_requests,
        polling.elapsed().as_secs_f64(),
        cursor.okta_requests as f64 / hours
    );
    env.stop().await;
}
