-- The sync protocol: daily schedule, incremental runs, safe deletions,
-- change events. Expand only.

ALTER TABLE tenants
    -- Minute of the (UTC) day the daily run is due; spread by a hash of the
    -- tenant id so no two thousand tenants start at midnight.
    ADD COLUMN schedule_minute integer NOT NULL DEFAULT 0 CHECK (schedule_minute BETWEEN 0 AND 1439),
    -- Optional: the tenant's preferred local hour (0-23) in its IANA time zone.
    ADD COLUMN preferred_hour integer CHECK (preferred_hour BETWEEN 0 AND 23),
    ADD COLUMN time_zone text,
    -- Deletion guard: a run removing more than this share AND at least this
    -- many users stops in needs_review.
    ADD COLUMN deletion_max_percent double precision NOT NULL DEFAULT 10 CHECK (deletion_max_percent >= 0),
    ADD COLUMN deletion_min_users integer NOT NULL DEFAULT 25 CHECK (deletion_min_users >= 0),
    ADD COLUMN last_success_at timestamptz,
    ADD COLUMN last_full_success_at timestamptz;

ALTER TABLE sync_runs
    -- The day slot a scheduled run fills: the unique index makes every
    -- scheduler replica's insert of the same slot a no-op.
    ADD COLUMN scheduled_for timestamptz,
    -- Incremental runs ask Okta for what changed after this instant.
    ADD COLUMN changed_since timestamptz,
    ADD COLUMN users_removed bigint NOT NULL DEFAULT 0,
    ADD COLUMN groups_removed bigint NOT NULL DEFAULT 0,
    ADD COLUMN memberships_removed bigint NOT NULL DEFAULT 0,
    -- needs_review: what the run would remove, and when a person confirmed it.
    ADD COLUMN pending_user_removals bigint,
    ADD COLUMN deletions_confirmed_at timestamptz;
CREATE UNIQUE INDEX sync_runs_one_per_slot ON sync_runs (tenant_id, scheduled_for) WHERE scheduled_for IS NOT NULL;

-- What a full run saw, so the sweep can tell what disappeared.
CREATE TABLE sync_seen (
    run_id  uuid NOT NULL REFERENCES sync_runs (id) ON DELETE CASCADE,
    kind    char(1) NOT NULL CHECK (kind IN ('u', 'g')),
    okta_id text NOT NULL,
    PRIMARY KEY (run_id, kind, okta_id)
);

-- Members seen per member chain of a run, so a group's member set can be
-- replaced once its chain is complete.
CREATE TABLE sync_seen_members (
    run_id   uuid NOT NULL REFERENCES sync_runs (id) ON DELETE CASCADE,
    group_id text NOT NULL,
    user_id  text NOT NULL,
    PRIMARY KEY (run_id, group_id, user_id)
);

-- Change events, written in the writer's transaction and relayed to the
-- `dirsync.events` topic exchange.
CREATE TABLE change_events (
    id           bigserial PRIMARY KEY,
    tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    run_id       uuid,
    event_type   text NOT NULL,
    okta_id      text NOT NULL,
    payload      jsonb NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX change_events_unpublished ON change_events (id) WHERE published_at IS NULL;
CREATE INDEX change_events_tenant ON change_events (tenant_id, id);

-- Users a full run found missing from the listing AND confirmed gone with
-- GET /api/v1/users/{id} (404): the only users a sweep may remove.
CREATE TABLE sync_removals (
    run_id  uuid NOT NULL REFERENCES sync_runs (id) ON DELETE CASCADE,
    okta_id text NOT NULL,
    PRIMARY KEY (run_id, okta_id)
);
