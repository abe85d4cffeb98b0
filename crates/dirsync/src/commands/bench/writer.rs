//! `dirsync bench writer`: the writer's path against PostgreSQL's `COPY`,
//! for users and for memberships, in one process, one scratch database and
//! one run of the benchmark.
//!
//! The writer's side is a real run (requested, claimed, its chains added)
//! whose pages go through what the writer does with a batch: one
//! `apply_pages` transaction, then `try_finalize` for the run. Pages are
//! grouped the way the writer's consumer groups waiting deliveries
//! ([`writer_batches`]). Decoding the messages and acking them are left
//! out, so the writer's figure is its database path only.
//!
//! The `COPY` side loads the same rows into `bench_users` and
//! `bench_group_members` ([`copy_load`]). Each kind is loaded in
//! [`SLICES`] slices, `COPY` first in even slices and the writer first in
//! odd ones, so drift on this noisy machine (checkpoints, autovacuum, the
//! tables growing) falls on both sides alike.
//!
//! Then the same users are applied again, unchanged, in a new run: its
//! rate, and whether it wrote any row, by PostgreSQL's statistics.

use super::copy_load::{self, Table};
use super::org_rows::{OrgRows, WriterSpec};
use super::scratch::BenchEnv;
use anyhow::Context;
use dirsync_domain::{Chain, PageFetched, PagePayload, RunId, SyncMode, TenantId, Trigger, WriterMessage};
use dirsync_okta_sim::{OktaSim, OrgSpec, SimConfig};
use dirsync_store::{NewRun, PageBatch, RowCounts, Store};
use sqlx::postgres::PgPoolOptions;
use std::time::{Duration, Instant};

/// Slices each kind is loaded in, alternating which side goes first.
const SLICES: usize = 4;

/// The target: the writer at least 0.8× `COPY`'s rows a second.
const TARGET: f64 = 0.8;

pub(super) async fn bench_writer(env: &BenchEnv, spec: WriterSpec) -> anyhow::Result<()> {
    anyhow::ensure!(
        spec.users > 0 && spec.groups > 0 && spec.members_per_group > 0,
        "--users, --groups and --members-per-group must be positive"
    );
    eprintln!(
        "generating {} users, {} groups of {} members…",
        spec.users, spec.groups, spec.members_per_group
    );
    let org = OrgRows::generate(&spec);
    // A tenant needs an Okta URL; nothing is fetched from it.
    let sim = OktaSim::start(
        dirsync_okta_sim::generate(&OrgSpec {
            users: 1,
            groups: 0,
            seed: 1,
        }),
        SimConfig::default(),
    )
    .await?;
    let tenant = env.tenant("bench-writer", &sim, "sim-token").await?;
    // The writer applies one batch at a time: one connection, which also
    // lets its statistics be flushed on demand (`users_rows_written`).
    let writer = Store::from_pool(
        PgPoolOptions::new()
            .max_connections(1)
            .connect(&env.config.database.url)
            .await?,
    );
    let mut copy_conn = env.store.pool().acquire().await?;
    copy_load::create_tables(&mut copy_conn).await?;
    let batching = (env.config.writer.batch_rows, usize::from(env.config.writer.prefetch));

    let run = start_run(&env.store, tenant, &org.chains()).await?;
    let before_load = users_rows_written(&writer).await?;
    eprintln!("users: the writer and COPY, {SLICES} slices each…");
    let users = duel(
        &writer,
        &mut copy_conn,
        Table::Users,
        &run.pages(org.user_pages()),
        batching,
    )
    .await?;
    let after_load = users_rows_written(&writer).await?;
    // Groups are not measured, but memberships are written after them, as
    // in a sync.
    apply_as_writer(&writer, &writer_batches(&run.pages(org.group_pages()), batching)).await?;
    eprintln!("memberships: the writer and COPY, {SLICES} slices each…");
    let members = duel(
        &writer,
        &mut copy_conn,
        Table::Memberships,
        &run.pages(org.member_pages()),
        batching,
    )
    .await?;

    eprintln!("users again, unchanged, in a new run…");
    env.store.runs().supersede_active(tenant).await?;
    let again = start_run(&env.store, tenant, &[Chain::Users]).await?;
    let before = users_rows_written(&writer).await?;
    let reapplied = apply_as_writer(&writer, &writer_batches(&again.pages(org.user_pages()), batching)).await?;
    let after = users_rows_written(&writer).await?;
    sim.shutdown().await;

    users.report("users");
    members.report("memberships");
    let rows = reapplied.rows.inserted + reapplied.rows.updated + reapplied.rows.unchanged;
    println!(
        "writer users re-applied unchanged (new run): {rows} rows in {:.2} s = {:.0} rows/s; rows written: {} by \
         pg_stat_user_tables (n_tup_ins + n_tup_upd on users; {} during the initial load), {} inserted + {} updated \
         by the store's counts",
        reapplied.time.as_secs_f64(),
        rows as f64 / reapplied.time.as_secs_f64(),
        after - before,
        after_load - before_load,
        reapplied.rows.inserted,
        reapplied.rows.updated,
    );
    writer.pool().close().await;
    Ok(())
}

/// A run of the tenant that accepts pages: requested, claimed (its lease
/// outlasts the benchmark), its chains added.
struct BenchRun {
    tenant_id: TenantId,
    run_id: RunId,
    attempt: u32,
}

async fn start_run(store: &Store, tenant: TenantId, chains: &[Chain]) -> anyhow::Result<BenchRun> {
    let (run, created) = store
        .runs()
        .request(NewRun {
            tenant_id: tenant,
            mode: SyncMode::Full,
            trigger: Trigger::Manual,
        })
        .await?;
    anyhow::ensure!(created, "the tenant already had an active run");
    let claimed = store
        .runs()
        .claim_run(run.id, "dirsync-bench", Duration::from_secs(24 * 3600))
        .await?
        .context("a new run is claimed")?;
    let chains: Vec<(Chain, String)> = chains
        .iter()
        .map(|c| (c.clone(), format!("https://bench.invalid/{c}")))
        .collect();
    anyhow::ensure!(
        store.runs().add_chains(run.id, &claimed.lease, &chains, None).await?,
        "the run's lease was lost"
    );
    Ok(BenchRun {
        tenant_id: tenant,
        run_id: run.id,
        attempt: claimed.lease.attempt,
    })
}

impl BenchRun {
    /// The run's pages: each chain's payloads numbered from 0.
    fn pages(&self, chains: Vec<(Chain, Vec<PagePayload>)>) -> Vec<PageFetched> {
        chains
            .into_iter()
            .flat_map(|(chain, payloads)| {
                payloads.into_iter().enumerate().map(move |(seq, payload)| PageFetched {
                    tenant_id: self.tenant_id,
                    run_id: self.run_id,
                    attempt: self.attempt,
                    chain: chain.clone(),
                    seq: seq as u32,
                    payload,
                })
            })
            .collect()
    }
}

/// The writer's batches when pages are waiting in the queue (a first
/// sync's backlog): pages in delivery order until the batch holds
/// `batch_rows` rows by the writer's estimate (a message's JSON bytes /
/// 512), or `prefetch` pages, the most the broker hands it unacked. This is
/// `collect_batch` in crates/dirsync-writer/src/service.rs.
fn writer_batches(pages: &[PageFetched], (batch_rows, prefetch): (usize, usize)) -> Vec<&[PageFetched]> {
    let approx_rows = |page: &PageFetched| {
        let message = WriterMessage::PageFetched(page.clone());
        (serde_json::to_vec(&message).map_or(0, |body| body.len()) / 512).max(1)
    };
    let mut batches = Vec::new();
    let (mut start, mut rows) = (0, 0);
    for (i, page) in pages.iter().enumerate() {
        rows += approx_rows(page);
        if rows >= batch_rows || i + 1 - start >= prefetch.max(1) {
            batches.push(&pages[start..=i]);
            (start, rows) = (i + 1, 0);
        }
    }
    if start < pages.len() {
        batches.push(&pages[start..]);
    }
    batches
}

/// What the writer's path took and did to the rows.
#[derive(Default)]
struct Applied {
    time: Duration,
    pages: usize,
    rows: RowCounts,
}

/// Applies the batches as the writer does, one transaction each, then asks
/// for the run's finalize (not due yet: its fetch never completes).
async fn apply_as_writer(writer: &Store, batches: &[&[PageFetched]]) -> anyhow::Result<Applied> {
    let mut applied = Applied::default();
    for batch in batches {
        let started = Instant::now();
        let written = writer
            .directory()
            .apply_pages(PageBatch {
                pages: batch.iter().collect(),
            })
            .await?;
        for run in &written.runs {
            writer.runs().try_finalize(*run).await?;
        }
        applied.time += started.elapsed();
        anyhow::ensure!(written.duplicates == 0, "a page was skipped as a duplicate");
        applied.pages += batch.len();
        for kind in written.rows {
            applied.rows.inserted += kind.inserted;
            applied.rows.updated += kind.updated;
            applied.rows.unchanged += kind.unchanged;
        }
    }
    Ok(applied)
}

/// One kind loaded both ways, slice by slice.
struct Duel {
    rows: u64,
    batches: usize,
    pages: usize,
    writer: Duration,
    copy: Duration,
}

async fn duel(
    writer: &Store,
    copy_conn: &mut sqlx::PgConnection,
    table: Table,
    pages: &[PageFetched],
    batching: (usize, usize),
) -> anyhow::Result<Duel> {
    let batches = writer_batches(pages, batching);
    let mut duel = Duel {
        rows: 0,
        batches: batches.len(),
        pages: pages.len(),
        writer: Duration::ZERO,
        copy: Duration::ZERO,
    };
    let (mut written, mut copied) = (0, 0);
    for (i, slice) in batches.chunks(batches.len().div_ceil(SLICES).max(1)).enumerate() {
        let copy_first = i % 2 == 0;
        for copy_now in [copy_first, !copy_first] {
            if copy_now {
                let (rows, time) = copy_load::copy_pages(copy_conn, table, slice.iter().flat_map(|b| b.iter())).await?;
                copied += rows;
                duel.copy += time;
            } else {
                let applied = apply_as_writer(writer, slice).await?;
                written += applied.rows.inserted;
                duel.writer += applied.time;
            }
        }
    }
    anyhow::ensure!(
        written == copied,
        "the writer inserted {written} rows and COPY loaded {copied}"
    );
    duel.rows = written;
    Ok(duel)
}

impl Duel {
    fn report(&self, kind: &str) {
        let writer = self.rows as f64 / self.writer.as_secs_f64();
        let copy = self.rows as f64 / self.copy.as_secs_f64();
        let ratio = writer / copy;
        println!(
            "writer {kind}: {} rows in {:.2} s = {writer:.0} rows/s; COPY: {} rows in {:.2} s = {copy:.0} rows/s; \
             ratio {ratio:.3} (target {TARGET}: {}) [{} pages in {} writer batches]",
            self.rows,
            self.writer.as_secs_f64(),
            self.rows,
            self.copy.as_secs_f64(),
            if ratio >= TARGET { "met" } else { "missed" },
            self.pages,
            self.batches,
        );
    }
}

/// Rows PostgreSQL's statistics count as inserted or updated in `users`.
/// The writer's connection flushes its pending counts first
/// (`pg_stat_force_next_flush`, PostgreSQL 15+: the flush happens as the
/// statement ends, before the next one reads them).
async fn users_rows_written(writer: &Store) -> anyhow::Result<i64> {
    sqlx::query("SELECT pg_stat_force_next_flush()")
        .execute(writer.pool())
        .await
        .context("pg_stat_force_next_flush (PostgreSQL 15 or later)")?;
    let (n,): (i64,) =
        sqlx::query_as("SELECT n_tup_ins + n_tup_upd FROM pg_stat_user_tables WHERE relid = 'users'::regclass")
            .fetch_one(writer.pool())
            .await?;
    Ok(n)
}
