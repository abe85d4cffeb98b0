-- Reliability: every removal proven or held, reviews that hold only the
-- removals, fenced run state, pages refetched after a takeover, and
-- incremental windows on Okta's clock. Expand only.

-- The deletion guard, one threshold per kind of removal: a run removing more
-- than the share AND at least the minimum of a kind stops in needs_review.
ALTER TABLE tenants
    ADD COLUMN deletion_max_percent_groups double precision NOT NULL DEFAULT 10 CHECK (deletion_max_percent_groups >= 0),
    ADD COLUMN deletion_min_groups integer NOT NULL DEFAULT 25 CHECK (deletion_min_groups >= 0),
    ADD COLUMN deletion_max_percent_memberships double precision NOT NULL DEFAULT 10 CHECK (deletion_max_percent_memberships >= 0),
    ADD COLUMN deletion_min_memberships integer NOT NULL DEFAULT 25 CHECK (deletion_min_memberships >= 0);

ALTER TABLE sync_runs
    -- Okta's clock (its Date header) when the run began listing: the next
    -- incremental window starts from it, never from our clock.
    ADD COLUMN okta_started_at timestamptz,
    -- Okta's clock minus ours, as measured when the run began.
    ADD COLUMN clock_skew_ms bigint,
    -- Handoffs after a lease lapsed (a worker died or hung): what the
    -- give-up limit counts. A graceful release or a duplicate request is not one.
    ADD COLUMN lost_leases integer NOT NULL DEFAULT 0,
    -- needs_review: what the run holds, per kind.
    ADD COLUMN pending_group_removals bigint,
    ADD COLUMN pending_membership_removals bigint,
    -- Memberships left in place because their group's member listing came
    -- back shorter than the group's usersCount of the same run.
    ADD COLUMN memberships_unverified bigint NOT NULL DEFAULT 0,
    -- A newer full run took over this review: its held removals were dropped.
    ADD COLUMN superseded_by uuid;

ALTER TABLE sync_chains
    -- Members chains: the group's usersCount from the same run's listing.
    ADD COLUMN expected_rows integer,
    -- Members chains: Okta answered 404 E0000007 for the group's members
    -- and for the group itself: the group is gone.
    ADD COLUMN gone boolean NOT NULL DEFAULT false;

-- The attempt whose version of the page was applied: a page fetched again by
-- a later attempt (after a takeover, its content may have moved) is applied
-- again; a late copy from an older attempt is not.
ALTER TABLE sync_pages ADD COLUMN attempt integer NOT NULL DEFAULT 0;

-- Groups confirmed gone by id, beside users.
ALTER TABLE sync_removals ADD COLUMN kind char(1) NOT NULL DEFAULT 'u' CHECK (kind IN ('u', 'g'));
ALTER TABLE sync_removals DROP CONSTRAINT sync_removals_pkey;
ALTER TABLE sync_removals ADD PRIMARY KEY (run_id, kind, okta_id);

-- The removals a needs_review run holds until a person confirms them:
-- users ('u'), groups ('g') and memberships ('m': okta_id is the group,
-- user_id the member). `observed` is the stored row's state when held, so a
-- confirmation applies only what no later run has contradicted.
CREATE TABLE sync_held_removals (
    run_id   uuid NOT NULL REFERENCES sync_runs (id) ON DELETE CASCADE,
    kind     char(1) NOT NULL CHECK (kind IN ('u', 'g', 'm')),
    okta_id  text NOT NULL,
    user_id  text NOT NULL DEFAULT '',
    observed timestamptz,
    PRIMARY KEY (run_id, kind, okta_id, user_id)
);
