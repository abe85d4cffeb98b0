-- Isolation: records Okta could not have sent are left out of a run and
-- counted, never stored and never allowed to fail a batch shared with
-- other tenants. Expand only.

ALTER TABLE sync_runs
    ADD COLUMN records_rejected bigint NOT NULL DEFAULT 0,
    -- The first few left-out records, "shortened id: reason".
    ADD COLUMN rejected_sample text[] NOT NULL DEFAULT '{}',
    -- Times the run gave its worker slot back at the end of a time slice.
    ADD COLUMN slices integer NOT NULL DEFAULT 0;
