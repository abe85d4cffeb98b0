//! Leases: a holder whose lease passed on, even to another attempt of the
//! same process, is refused every write of the run's state; a finished
//! fetch holds no lease; a graceful release is no lost lease.

use super::{claimed_run, expire_lease, last_page};
use crate::harness::{TestEnv, spec};
use dirsync_domain::{Chain, ErrorCode};
use dirsync_okta_sim::SimConfig;
use dirsync_store::Checkpoint;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_holder_of_a_run_is_refused_every_write_even_from_the_same_process() {
    let env = TestEnv::start_without_roles("fence", spec(10, 2, 41), SimConfig::default()).await;
    let tenant = env.tenant("acme", "tok").await;
    let first = claimed_run(&env.store, tenant, "worker-a").await;
    // Its lease lapses; the same process claims the run again: a new attempt.
    expire_lease(&env.store, first.run_id).await;
    let second = env
        .store
        .runs()
        .claim_run(first.run_id, "worker-a", Duration::from_secs(30))
        .await
        .unwrap()
        .expect("a lapsed lease is taken over");
    assert_eq!(second.lease.attempt, first.lease.attempt + 1);
    assert_eq!(second.lost_leases, 1, "a lapsed lease counts as lost");

    let chain = Chain::Groups;
    let plan = [(chain.clone(), "http://okta.invalid/api/v1/groups".to_owned())];
    let store = &env.store;
    assert!(
        !store
            .runs()
            .add_chains(first.run_id, &first.lease, &plan, None)
            .await
            .unwrap()
    );
    assert!(
        store
            .runs()
            .add_chains(first.run_id, &second.lease, &plan, None)
            .await
            .unwrap()
    );
    let checkpoint = |done: bool| Checkpoint {
        done,
        ..last_page(&chain, 0)
    };
    assert!(
        !store
            .runs()
            .checkpoint(first.run_id, &first.lease, checkpoint(true))
            .await
            .unwrap()
    );
    assert!(
        !store
            .runs()
            .heartbeat(first.run_id, &first.lease, Duration::from_secs(30))
            .await
            .unwrap()
    );
    assert!(
        store
            .runs()
            .complete_fetch(first.run_id, &first.lease, 0)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        !store
            .runs()
            .fail(first.run_id, &first.lease, ErrorCode::Internal, "stale", 0)
            .await
            .unwrap()
    );
    assert!(!store.runs().release_lease(first.run_id, &first.lease).await.unwrap());

    // The holder's writes go through; a finished fetch holds no lease and is
    // never handed out again.
    assert!(
        store
            .runs()
            .checkpoint(first.run_id, &second.lease, checkpoint(true))
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .runs()
            .complete_fetch(first.run_id, &second.lease, 0)
            .await
            .unwrap(),
        Some(0)
    );
    expire_lease(store, first.run_id).await;
    assert!(
        store
            .runs()
            .claim_run(first.run_id, "worker-b", Duration::from_secs(30))
            .await
            .unwrap()
            .is_none(),
        "a fetched run belongs to the writers"
    );
    assert!(
        store
            .runs()
            .runs_to_redeliver(Duration::from_secs(3600))
            .await
            .unwrap()
            .is_empty()
    );
    // A graceful release is no lost lease.
    let (other, _) = (
        claimed_run(store, env.tenant("beta", "tok").await, "worker-c").await,
        (),
    );
    assert!(store.runs().release_lease(other.run_id, &other.lease).await.unwrap());
    let again = store
        .runs()
        .claim_run(other.run_id, "worker-d", Duration::from_secs(30))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.lost_leases, 0);
    env.stop().await;
}
