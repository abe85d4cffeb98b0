-- dirsync's first schema. Expand/contract only: never edit an applied
-- migration, add a new one.

-- A profile attribute as text, only when it is a JSON string: a number or a
-- null in `title` must not become the text "42" or "null" in a signature.
CREATE FUNCTION profile_text(profile jsonb, attr text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT CASE WHEN jsonb_typeof(profile -> attr) = 'string' THEN profile ->> attr END $$;

CREATE TABLE tenants (
    id                   uuid PRIMARY KEY,
    name                 text NOT NULL,
    okta_url             text NOT NULL,
    -- AES-256-GCM: nonce || ciphertext, the tenant id bound as associated data.
    token_ciphertext     bytea NOT NULL,
    token_key_id         text NOT NULL,
    settings             jsonb NOT NULL DEFAULT '{}',
    okta_org_id          text,
    last_okta_success_at timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tenants_name ON tenants (name);

CREATE TABLE sync_runs (
    id                 uuid PRIMARY KEY,
    tenant_id          uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    mode               text NOT NULL CHECK (mode IN ('full', 'incremental')),
    trigger            text NOT NULL CHECK (trigger IN ('manual', 'scheduled')),
    state              text NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'needs_review')),
    -- How many times the run was handed to a worker.
    attempt            integer NOT NULL DEFAULT 0,
    lease_owner        text,
    lease_expires_at   timestamptz,
    -- Set by the worker once every chain has ended; the total is what the
    -- writer must have written before it may finalize.
    fetch_completed_at timestamptz,
    pages_total        integer,
    okta_requests      bigint NOT NULL DEFAULT 0,
    users_seen         bigint NOT NULL DEFAULT 0,
    users_changed      bigint NOT NULL DEFAULT 0,
    groups_seen        bigint NOT NULL DEFAULT 0,
    groups_changed     bigint NOT NULL DEFAULT 0,
    memberships_seen   bigint NOT NULL DEFAULT 0,
    memberships_added  bigint NOT NULL DEFAULT 0,
    error_code         text CHECK (error_code IN ('invalid_token', 'access_denied', 'org_not_found', 'okta_unavailable', 'internal')),
    error_message      text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    started_at         timestamptz,
    finished_at        timestamptz,
    CHECK ((state = 'failed') = (error_code IS NOT NULL))
);
-- At most one active run per tenant, whatever process asks: the database
-- says no, not a lock held in some pod's memory.
CREATE UNIQUE INDEX sync_runs_one_active_per_tenant ON sync_runs (tenant_id)
    WHERE state IN ('queued', 'running');
CREATE INDEX sync_runs_tenant_created ON sync_runs (tenant_id, created_at DESC);
CREATE INDEX sync_runs_active_lease ON sync_runs (lease_expires_at) WHERE state IN ('queued', 'running');

-- Checkpoints: one row per cursor chain of a run.
CREATE TABLE sync_chains (
    run_id     uuid NOT NULL REFERENCES sync_runs (id) ON DELETE CASCADE,
    chain      text NOT NULL,
    -- The absolute URL of the next page to fetch; NULL before the first page.
    next_url   text,
    pages      integer NOT NULL DEFAULT 0,
    done       boolean NOT NULL DEFAULT false,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, chain)
);

-- Pages the writer has applied, so a redelivered or refetched page is
-- applied once and the run knows when it is complete.
CREATE TABLE sync_pages (
    run_id     uuid NOT NULL REFERENCES sync_runs (id) ON DELETE CASCADE,
    chain      text NOT NULL,
    seq        integer NOT NULL,
    rows       integer NOT NULL,
    written_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, chain, seq)
);

CREATE TABLE users (
    tenant_id        uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    okta_id          text NOT NULL,
    status           text NOT NULL,
    created          timestamptz,
    activated        timestamptz,
    status_changed   timestamptz,
    last_login       timestamptz,
    last_updated     timestamptz,
    password_changed timestamptz,
    user_type_id     text,
    profile          jsonb NOT NULL,
    -- The fields an email signature uses, typed, derived from the profile.
    login            text GENERATED ALWAYS AS (profile_text(profile, 'login')) STORED,
    email            text GENERATED ALWAYS AS (profile_text(profile, 'email')) STORED,
    first_name       text GENERATED ALWAYS AS (profile_text(profile, 'firstName')) STORED,
    last_name        text GENERATED ALWAYS AS (profile_text(profile, 'lastName')) STORED,
    display_name     text GENERATED ALWAYS AS (profile_text(profile, 'displayName')) STORED,
    title            text GENERATED ALWAYS AS (profile_text(profile, 'title')) STORED,
    department       text GENERATED ALWAYS AS (profile_text(profile, 'department')) STORED,
    organization     text GENERATED ALWAYS AS (profile_text(profile, 'organization')) STORED,
    mobile_phone     text GENERATED ALWAYS AS (profile_text(profile, 'mobilePhone')) STORED,
    primary_phone    text GENERATED ALWAYS AS (profile_text(profile, 'primaryPhone')) STORED,
    street_address   text GENERATED ALWAYS AS (profile_text(profile, 'streetAddress')) STORED,
    city             text GENERATED ALWAYS AS (profile_text(profile, 'city')) STORED,
    state            text GENERATED ALWAYS AS (profile_text(profile, 'state')) STORED,
    zip_code         text GENERATED ALWAYS AS (profile_text(profile, 'zipCode')) STORED,
    country_code     text GENERATED ALWAYS AS (profile_text(profile, 'countryCode')) STORED,
    manager          text GENERATED ALWAYS AS (profile_text(profile, 'manager')) STORED,
    manager_id       text GENERATED ALWAYS AS (profile_text(profile, 'managerId')) STORED,
    deleted_at       timestamptz,
    first_synced_at  timestamptz NOT NULL DEFAULT now(),
    -- Moves only when a sync changed the row; an unchanged row is not rewritten.
    changed_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, okta_id)
);
CREATE INDEX users_tenant_changed ON users (tenant_id, changed_at);

CREATE TABLE groups (
    tenant_id               uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    okta_id                 text NOT NULL,
    group_type              text NOT NULL,
    created                 timestamptz,
    last_updated            timestamptz,
    last_membership_updated timestamptz,
    object_class            text[] NOT NULL DEFAULT '{}',
    profile                 jsonb NOT NULL,
    name                    text GENERATED ALWAYS AS (profile_text(profile, 'name')) STORED,
    description             text GENERATED ALWAYS AS (profile_text(profile, 'description')) STORED,
    deleted_at              timestamptz,
    first_synced_at         timestamptz NOT NULL DEFAULT now(),
    changed_at              timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, okta_id)
);

CREATE TABLE group_members (
    tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    group_id  text NOT NULL,
    user_id   text NOT NULL,
    added_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, group_id, user_id)
);
CREATE INDEX group_members_user ON group_members (tenant_id, user_id);
