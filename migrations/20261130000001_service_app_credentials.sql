-- A second credential kind beside the SSWS API token: an OAuth 2.0
-- service app ("API Services" app in Okta) that signs a client assertion
-- with a key pair dirsync made (private_key_jwt). Expand only: existing
-- tenants keep their token and the kind `api_token`.

ALTER TABLE tenants
    ADD COLUMN credential_kind text NOT NULL DEFAULT 'api_token'
        CHECK (credential_kind IN ('api_token', 'service_app')),
    -- The app's client id (`0oa…`), once the admin has created the app in
    -- Okta and given it to us; NULL until then (setup incomplete).
    ADD COLUMN service_app_client_id text,
    ALTER COLUMN token_ciphertext DROP NOT NULL,
    ALTER COLUMN token_key_id DROP NOT NULL;

-- A tenant on an API token has one; a service-app tenant keeps none (the
-- token it replaced is dropped, not kept around).
ALTER TABLE tenants ADD CONSTRAINT tenants_token_matches_kind CHECK (
    (credential_kind = 'api_token') = (token_ciphertext IS NOT NULL AND token_key_id IS NOT NULL)
);

-- The service app's key pairs. The private key (PKCS#8 PEM) is sealed like
-- tokens (AES-256-GCM under a configured key, the tenant bound as
-- associated data); the public JWK is what the admin pastes into Okta.
-- At most one `active` key (the one a sync signs with) and one `pending`
-- key (made to replace it, active once the admin confirms it is in Okta).
CREATE TABLE service_app_keys (
    tenant_id      uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    kid            text NOT NULL,
    algorithm      text NOT NULL CHECK (algorithm IN ('ES256', 'RS256')),
    public_jwk     jsonb NOT NULL,
    key_ciphertext bytea NOT NULL,
    cipher_key_id  text NOT NULL,
    aad_version    smallint NOT NULL,
    state          text NOT NULL CHECK (state IN ('pending', 'active')),
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, kid)
);
CREATE UNIQUE INDEX service_app_keys_one_per_state ON service_app_keys (tenant_id, state);

-- A service app fails in two more ways an admin can fix.
ALTER TABLE sync_runs DROP CONSTRAINT sync_runs_error_code_check;
ALTER TABLE sync_runs ADD CONSTRAINT sync_runs_error_code_check CHECK (error_code IN (
    'invalid_token', 'access_denied', 'invalid_client', 'missing_scope', 'org_not_found', 'okta_unavailable',
    'internal'
));
