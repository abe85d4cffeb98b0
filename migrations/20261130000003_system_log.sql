-- Minutes-fresh changes: each tenant's place in Okta's System Log
-- (`GET /api/v1/logs` in polling mode), shared by any number of poller
-- processes through a lease, and the secret Okta's Event Hook presents to
-- prompt a poll. Expand only.

CREATE TABLE log_cursors (
    tenant_id        uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    -- The `next` link to follow (polling mode: it never ends); NULL until
    -- the first poll, which starts from `since` (the last sync's start).
    next_url         text,
    next_poll_at     timestamptz NOT NULL DEFAULT now(),
    -- Consecutive polls that found nothing: each doubles the interval, up
    -- to `poller.max_interval`; any event resets it.
    idle_polls       integer NOT NULL DEFAULT 0,
    -- An Event Hook delivery arrived while a poller held the lease: the
    -- next poll is due at once when that poll ends.
    poked            boolean NOT NULL DEFAULT false,
    lease_owner      text,
    lease_expires_at timestamptz,
    -- `published` of the newest event applied (Okta's clock).
    last_event_at    timestamptz,
    events_applied   bigint NOT NULL DEFAULT 0,
    okta_requests    bigint NOT NULL DEFAULT 0,
    -- Set when the tenant's credentials cannot read the System Log (403):
    -- the daily run still keeps the copy; nobody polls until it is cleared.
    disabled_reason  text,
    updated_at       timestamptz NOT NULL DEFAULT now()
);
-- A claim touches only the due cursors.
CREATE INDEX log_cursors_due ON log_cursors (next_poll_at) WHERE disabled_reason IS NULL;

-- The secret an Okta Event Hook sends in its authentication header, as a
-- SHA-256 digest: dirsync shows the secret once and cannot show it again.
CREATE TABLE event_hook_secrets (
    tenant_id   uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    secret_hash bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
