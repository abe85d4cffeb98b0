//! Exactly once: which pages of a batch are applied (a redelivery or a
//! late copy from an older attempt is not), what each run saw, and the
//! run's tallies.

use super::{BatchRows, RunTally};
use crate::StoreError;
use dirsync_domain::PageFetched;
use dirsync_domain::RunId;
use std::collections::BTreeMap;

/// Remembers what each run saw: users and groups (a full run's removal
/// check asks Okta about the rest) and members per group (a completed
/// member chain replaces the group's member set).
pub(super) async fn record_seen(tx: &mut sqlx::PgConnection, rows: &BatchRows<'_>) -> Result<(), StoreError> {
    if !rows.seen.is_empty() {
        let runs: Vec<RunId> = rows.seen.iter().map(|s| s.0).collect();
        let kinds: Vec<&str> = rows.seen.iter().map(|s| s.1).collect();
        let ids: Vec<&str> = rows.seen.iter().map(|s| s.2).collect();
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
    if !rows.seen_members.is_empty() {
        let runs: Vec<RunId> = rows.seen_members.iter().map(|m| m.0).collect();
        let groups: Vec<&str> = rows.seen_members.iter().map(|m| m.1).collect();
        let users: Vec<&str> = rows.seen_members.iter().map(|m| m.2).collect();
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

/// A page to apply now.
pub(super) struct ClaimedPage<'a> {
    pub page: &'a PageFetched,
    /// Applied before by an older attempt of the run (its rows are counted).
    pub again: bool,
    /// Its chain is fresh (`sync_chains.fresh`): nothing it lists was stored
    /// when the chain began, so whatever is stored at the run's end the run
    /// wrote, and no seen-row is needed to tell what it missed.
    pub fresh_chain: bool,
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
) -> Result<Vec<ClaimedPage<'a>>, StoreError> {
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
    let claimed: Vec<(RunId, String, i32, bool, bool)> = sqlx::query_as(
        "WITH claimed AS (
             INSERT INTO sync_pages AS s (run_id, chain, seq, rows, attempt)
             SELECT p.* FROM UNNEST($1::uuid[], $2::text[], $3::int[], $4::int[], $5::int[])
                 AS p(run_id, chain, seq, rows, attempt)
             WHERE EXISTS (SELECT 1 FROM sync_runs r WHERE r.id = p.run_id AND r.state = 'running')
             ON CONFLICT (run_id, chain, seq) DO UPDATE SET attempt = EXCLUDED.attempt, rows = EXCLUDED.rows,
                 written_at = now()
             WHERE s.attempt < EXCLUDED.attempt
             RETURNING run_id, chain, seq, xmax <> 0 AS again
         )
         SELECT c.run_id, c.chain, c.seq, c.again, coalesce(ch.fresh, false)
         FROM claimed c LEFT JOIN sync_chains ch ON ch.run_id = c.run_id AND ch.chain = c.chain
         ORDER BY c.run_id, c.chain, c.seq",
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
        .filter_map(|(run, chain, seq, again, fresh_chain)| {
            newest.get(&(run, chain, seq)).map(|page| ClaimedPage {
                page,
                again,
                fresh_chain,
            })
        })
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
