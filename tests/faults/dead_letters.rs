//! Garbage on each work queue: dead-lettered, the roles say why, and the
//! consumers go on (a sync afterwards succeeds).

use crate::SERIAL;
use crate::case::{Case, END_BOUND};
use crate::check::await_end;
use crate::poison;
use std::time::Instant;

/// Case 6: garbage on each work queue ends in the dead-letter queue, the
/// roles say why, and a sync afterwards succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn poison_messages_are_dead_lettered_and_the_consumers_go_on() {
    let _serial = SERIAL.lock().await;
    let case = Case::start("poison", "fpoison", 1_000, 37, &[]).await;
    let topology = dirsync_queue::Topology::new(&case.env.config.amqp.prefix, case.env.config.amqp.delivery_limit);
    let garbage = poison::Garbage::for_topology(&topology);
    let published = Instant::now();
    poison::publish(&case.env.config.amqp, &topology, &garbage).await;
    let dead = poison::await_dead_letters(&case.env.config.amqp, &topology, garbage.len()).await;
    let dead_in = published.elapsed();

    // The roles say why each one was dead-lettered.
    let requests = case.fleet.log_lines("unreadable worker request; dead-lettering it");
    let pages = case.fleet.log_lines("unreadable page message; dead-lettering it");
    assert!(
        requests.len() == 2 && requests.iter().all(|l| l.contains("worker-") && l.contains("error=")),
        "a worker log line per poisoned request queue, with the decode error: {requests:#?}\n{}",
        case.fleet.log_tails(10)
    );
    assert!(
        pages.len() == 1 && pages[0].contains("writer-") && pages[0].contains("error="),
        "a writer log line for the poisoned page, with the decode error: {pages:#?}\n{}",
        case.fleet.log_tails(10)
    );

    let run = case.start_run().await;
    let done = await_end(&case.env, run, END_BOUND).await;
    assert_eq!(done.state(), dirsync_domain::RunState::Succeeded);
    // Nothing but the garbage was dead-lettered, and all of it is there.
    let bodies = poison::drain_dead_letters(&case.env.config.amqp, &topology).await;
    garbage.assert_same(&bodies);
    let extra = format!(
        "{dead} garbage messages dead-lettered within {:.1} s, logged as: {}",
        dead_in.as_secs_f64(),
        pages[0].split("ERROR").nth(1).unwrap_or(&pages[0]).trim()
    );
    case.finish(run, &extra).await;
}
