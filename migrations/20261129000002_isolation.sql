-- Isolation: records Okta could not have sent are left out of a run and
-- counted, never stored and never allowed to fail a batch shared with
-- other tenants. Expand only.

ALTER TABLE sync_runs
    ADD COLUMN records_rejected bigint NOT NULL DEFAULT 0,
    -- The first few left-out records, "shortened id: reason".
    ADD COLUMN rejected_sample text[] NOT NULL DEFAULT '{}',
    -- Times the run gave its worker slot back at the end of a time slice.
    ADD COLUMN slices integer NOT NULL DEFAULT 0;

-- Tokens are sealed with the tenant's Okta origin in the associated data
-- (version 2): a URL changed in the database makes the token undecryptable
-- instead of sending it elsewhere. Version 1 (tenant id only) is read until
-- `dirsync keys rotate` has re-sealed it.
ALTER TABLE tenants ADD COLUMN token_aad_version smallint NOT NULL DEFAULT 1 CHECK (token_aad_version IN (1, 2));

-- What each key id named when it was first used (SHA-256 of the key,
-- shortened): a key id never silently comes to name another key.
CREATE TABLE token_keys (
    key_id        text PRIMARY KEY,
    fingerprint   text NOT NULL,
    first_used_at timestamptz NOT NULL DEFAULT now()
);
