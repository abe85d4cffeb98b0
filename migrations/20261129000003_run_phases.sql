-- A run is a chain of messages, never a waiting worker: once every page
-- of a full run is written, the writer asks the workers
-- (removals_requested_at) to confirm with Okta what the run did not see;
-- a worker records it (removals_checked_at) and the writer finalizes.
ALTER TABLE sync_runs
    ADD COLUMN removals_requested_at timestamptz,
    ADD COLUMN removals_checked_at timestamptz,
    -- A request nobody took is sent again with a growing delay (a long
    -- backlog is not a lost message), starting over when it is claimed.
    ADD COLUMN request_resent_at timestamptz,
    ADD COLUMN request_resends integer NOT NULL DEFAULT 0;

-- Runs fetched before this migration confirmed their removals before the
-- fetch ended (the worker waited for the writers): they are checked.
UPDATE sync_runs SET removals_checked_at = fetch_completed_at WHERE fetch_completed_at IS NOT NULL;
