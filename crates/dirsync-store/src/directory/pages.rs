//! Exactly once: which pages of a batch are applied (a redelivery or a
//! late copy from an older attempt is not), what each run saw, and the
//! run's tallies.

use super::{BatchRows, RunTally};
use crate::StoreError;
use dirsync_domain::PageFetched;
use dirsync_domain::RunId;
use std::collections::BTreeMap;

/// Remembers what each run saw: users and groups (a full run's sweep
/// removes the rest) and members per group (a completed member chain
/// replaces the group's member set).
pub(super) async fn record_seen(tx: &mut sqlx::PgConnection, rows: &BatchRows<'_>) -> Result<(), StoreError> {
    let mut runs = Vec::new();
    let mut kinds = Vec::new();
    let mut ids = Vec::new();
    for ((_, id), (run, _)) in &rows.users {
        runs.push(*run);
        kinds.push("u");
        ids.push(*id);
    }
    for ((_, id), (run, _)) in &rows.groups {
        runs.push(*run);
        kinds.push("g");
        ids.push(*id);
    }
    if !runs.is_empty() {
        sqlx::query(
            "INSERT INTO sync_seen (run_id, kind, okta_id) SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::text[])
             ON CONFLICT DO NOTHING",
        )
        .bind(runs)
        .bind(kinds)
        .bind(ids)
        .execute(&mut *tx)
        .await?;
    }
    if !rows.members.is_empty() {
        let runs: Vec<RunId> = rows.members.iter().map(|m| m.3).collect();
        let groups: Vec<&str> = rows.members.iter().map(|m| m.1).collect();
        let users: Vec<&str> = rows.members.iter().map(|m| m.2).collect();
        sqlx::query(
            "INSERT INTO sync_seen_members (run_id, group_id, user_id)
             SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::text[]) ON CONFLICT DO NOTHING",
        )
        .bind(runs)
        .bind(groups)
        .bind(users)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// Records the pages as applied; returns those to apply now: pages not
/// applied before, and pages fetched again by a later attempt of the run
/// (after a takeover the same position may hold other rows: applying every
/// newer version means a row that moved into it is never skipped). A
/// redelivery, or a late copy from an older attempt, is skipped, and so is
/// every page of a run that has ended (or was deleted with its tenant).
pub(super) async fn claim_pages<'a>(
    tx: &mut sqlx::PgConnection,
    pages: &[&'a PageFetched],
) -> Result<Vec<(&'a PageFetched, bool)>, StoreError> {
    // One version per key: the newest attempt in the batch.
    let mut newest: BTreeMap<(RunId, String, i32), &'a PageFetched> = BTreeMap::new();
    for page in pages {
        let key = (page.run_id, page.chain.to_string(), page.seq as i32);
        match newest.get(&key) {
            Some(kept) if kept.attempt >= page.attempt => {}
            _ => {
                newest.insert(key, page);
            }
        }
    }
    let runs: Vec<RunId> = newest.keys().map(|k| k.0).collect();
    let chains: Vec<&str> = newest.keys().map(|k| k.1.as_str()).collect();
    let seqs: Vec<i32> = newest.keys().map(|k| k.2).collect();
    let rows: Vec<i32> = newest.values().map(|p| p.payload.rows() as i32).collect();
    let attempts: Vec<i32> = newest.values().map(|p| p.attempt as i32).collect();
    // `xmax` is 0 for a row this statement inserted, and not for one it
    // updated: the flag says the page is applied again.
    let claimed: Vec<(RunId, String, i32, bool)> = sqlx::query_as(
        "INSERT INTO sync_pages AS s (run_id, chain, seq, rows, attempt)
         SELECT p.* FROM UNNEST($1::uuid[], $2::text[], $3::int[], $4::int[], $5::int[])
             AS p(run_id, chain, seq, rows, attempt)
         WHERE EXISTS (SELECT 1 FROM sync_runs r WHERE r.id = p.run_id AND r.state = 'running')
         ON CONFLICT (run_id, chain, seq) DO UPDATE SET attempt = EXCLUDED.attempt, rows = EXCLUDED.rows,
             written_at = now()
         WHERE s.attempt < EXCLUDED.attempt
         RETURNING run_id, chain, seq, xmax <> 0",
    )
    .bind(runs)
    .bind(chains)
    .bind(seqs)
    .bind(rows)
    .bind(attempts)
    .fetch_all(&mut *tx)
    .await?;
    Ok(claimed
        .into_iter()
        .filter_map(|(run, chain, seq, again)| newest.get(&(run, chain, seq)).map(|page| (*page, again)))
        .collect())
}

pub(super) async fn add_tallies(
    tx: &mut sqlx::PgConnection,
    tallies: &BTreeMap<RunId, RunTally>,
) -> Result<(), StoreError> {
    for (run, t) in tallies {
        sqlx::query(
            "UPDATE sync_runs SET users_seen = users_seen + $2, groups_seen = groups_seen + $3,
                    memberships_seen = memberships_seen + $4, users_changed = users_changed + $5,
                    groups_changed = groups_changed + $6, memberships_added = memberships_added + $7
             WHERE id = $1",
        )
        .bind(run)
        .bind(t.users_seen)
        .bind(t.groups_seen)
        .bind(t.memberships_seen)
        .bind(t.users_changed)
        .bind(t.groups_changed)
        .bind(t.memberships_added)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}
